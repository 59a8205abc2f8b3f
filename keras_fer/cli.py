"""The ``keras-fer`` command line. It only orchestrates; the work lives in the packages."""

import argparse
import sys


def _list_layers(args):
    from keras_fer import layers

    for name in layers.__all__:
        doc = (getattr(layers, name).__doc__ or "").strip().splitlines()
        print(f"{name:32s} {doc[0] if doc else ''}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-fer", description=__doc__)
    from keras_fer import __version__

    parser.add_argument("--version", action="version", version=f"keras-fer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list-layers", help="the papers' attention layers with their equations")
    p.set_defaults(func=_list_layers)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
