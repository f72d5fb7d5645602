"""What Bedrock and the table hold, and the rules every room shares: files, parts and jobs and their states,
limits and prices, names and record ids, errors, the clock, retry policy and the ports the adapters implement.
Imports nothing from the other rooms."""
