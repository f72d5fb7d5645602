"""A scheduler run: reconcile each model's jobs with Bedrock, plan jobs from waiting parts for the free slots,
submit them (or run small work on demand), retry what Bedrock failed, and stop on request. Imports settling
and the model."""
