import sys

from compare.harness.cli import main

sys.exit(main())
