"""An upload becomes a file and its parts: lines read and checked, the model chosen, valid lines staged, and
uploads whose event never came found again. Imports only the model."""
