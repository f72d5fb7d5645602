"""Prints the template as SAM translates it (plain CloudFormation: the functions' generated roles and policies,
the event rules, permissions and dead-letter settings), so checkov can judge what is actually deployed.

    python -m bbq_local.translated > translated.json
"""

import json
import os
import sys

import boto3
from moto import mock_aws

from bbq_local.stack import load_template, translate


def main() -> None:
    # SAM's translator asks IAM for managed policies' ARNs and needs a Region: moto answers, nothing leaves.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    with mock_aws():
        translated = translate(load_template(), {}, boto3.client("iam"))
    json.dump(translated, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
