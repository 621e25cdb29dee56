import sys

from agents_sdk.cli import main

sys.exit(main())
