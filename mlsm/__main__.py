import sys

try:
    from mlsm.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing
    print("mlsm: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
