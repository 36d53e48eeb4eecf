"""The ``ruuvistream`` console script: the native command line, installed with the package."""

from __future__ import annotations

import sys

from ruuvistream import _native


def main() -> None:
    """Run the command line with ``sys.argv`` and exit with its status."""
    sys.stdout.flush()
    sys.exit(_native.cli_main(["ruuvistream", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
