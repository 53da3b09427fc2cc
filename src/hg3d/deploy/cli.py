"""``hg3d-export``: the flags of the network to export (no device or flip test: the export runs on
the CPU and holds the plain network), then ``deploy.export``."""

from ..errors import OneLineParser
from ..options import add_network_options, finish_network_options
from . import FORMATS


def parse_export_opts(argv=None):
    """The network's options and the export's own (--format, --out)."""
    parser = OneLineParser("hg3d-export", description="Export an hg3d checkpoint to ONNX or TorchScript.")
    add_network_options(parser, load_model_help="the checkpoint to export")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--out", required=True, help="output file (.onnx or .pt)")
    parser.set_defaults(default_task="human3d")
    return finish_network_options(parser.parse_args(argv))


def run_export(argv=None):
    opt = parse_export_opts(argv)
    from .export import export_checkpoint  # after parsing: --help and flag errors need no torch

    heads = export_checkpoint(
        opt.load_model, opt.arch, opt.task, opt.format, opt.out, opt.input_h, opt.input_w, log=print
    )
    print(f"wrote {opt.out} ({opt.format}; input (N, 3, {opt.input_h}, {opt.input_w}), outputs {', '.join(heads)})")
