"""What happens when a job ends: its output settled record by record, each file's status derived from its
parts, and once every record is final, the file's results joined, its report written and the file ended.
Imports only the model."""
