"""Prints the template as SAM translates it (plain CloudFormation: the functions' generated roles and policies,
the event rules, permissions and dead-letter settings), so checkov can judge what is actually deployed.

    python -m bbq_local.translated > translated.json
"""

import json
import os
import sys

from bbq_local.stack import translate_offline


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator's own session asks for a Region
    json.dump(translate_offline(), sys.stdout, indent=1)


if __name__ == "__main__":
    main()
