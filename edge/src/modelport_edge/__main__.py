import sys

from modelport_edge.cli import main

sys.exit(main())
