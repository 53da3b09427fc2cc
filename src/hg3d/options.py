"""The model options: the flags that say which network runs (architecture, task, checkpoint, input
size: ``add_network_options``) and how (device, flip test: ``add_runtime_options``), their derived
settings (heads, device), and the default paths. Every command that runs the network reads them
(``hg3d-demo``, ``hg3d-export``, ``hg3d-train``); the training options are in ``train_options``.
Flag names and defaults follow the original release, so its README's commands work unchanged.
Nothing here imports torch or a dataset at load time, so that a parser and ``--help`` stay light.
"""

import os
import shlex
import sys

from .archs import ARCHS, TASKS, heads_for
from .errors import OneLineParser, UserError
from .weights import RELEASES, resolve_checkpoint

TEMPORAL = "temporal"  # hg3d-train's task of the temporal model (not a frame model's task)

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(SRC_DIR)
HOME_HELP = (
    "Default paths (data/, exp/, models/) lie under $HG3D_HOME when it is set, else in the clone "
    "this code runs from, else (an installed package) in the current directory."
)


def home_dir():
    """The folder that holds data/, exp/ and models/ by default (see HOME_HELP).

    Read when a parser is built, so HG3D_HOME and the current directory are those of the run.
    """
    if os.environ.get("HG3D_HOME"):
        return os.path.abspath(os.path.expanduser(os.environ["HG3D_HOME"]))
    in_clone = os.path.basename(SRC_DIR) == "src" and os.path.isfile(os.path.join(REPO_DIR, "pyproject.toml"))
    return REPO_DIR if in_clone else os.getcwd()


def model_parser(prog, description, load_model_help, tasks=TASKS):
    """A parser with the model options (and the default paths' note as its epilog)."""
    parser = OneLineParser(prog=prog, description=description, epilog=HOME_HELP)
    add_model_options(parser, load_model_help, tasks)
    return parser


def add_model_options(parser, load_model_help, tasks=TASKS):
    """The network's flags and those of running it."""
    add_network_options(parser, load_model_help, tasks)
    add_runtime_options(parser)


def add_network_options(parser, load_model_help, tasks=TASKS):
    """The flags that say which network, with which weights, on what input size (``tasks``: the
    frame model's, and for hg3d-train also ``temporal``)."""
    a = parser.add_argument_group("model").add_argument
    a(
        "--arch",
        choices=ARCHS,
        help="the backbone: msra_N a ResNet-N, mobilenet_v3 a MobileNetV3-Large (faster, no released "
        "weights); default: a released model's own, else msra_50",
    )
    a(
        "--task",
        choices=tasks,
        help="human2d: heatmaps; human3d: + depth maps"
        + ("; temporal: the temporal model over pose sequences (docs/temporal.md)" if TEMPORAL in tasks else "")
        + " (default: a released model's own, else human2d for training, human3d for the demo and export)",
    )
    a(
        "--load_model",
        default="",
        help=f"{load_model_help}; a file, or a released model's name ({', '.join(RELEASES)}), "
        "downloaded once into torch's hub cache (models/README.md)",
    )
    parser.set_defaults(default_task="human2d")  # --task when neither the flag nor a released model says
    a("--input_h", type=int, default=-1, help="input height (default 256)")
    a("--input_w", type=int, default=-1, help="input width (default 256)")


def add_runtime_options(parser):
    """The flags of running the network: the device and the flip test."""
    a = parser.add_argument_group("running").add_argument
    a("--gpus", default="0", help="CUDA device ids, e.g. 0 or 0,1; -1 for the CPU")
    a(
        "--flip_test",
        dest="flip_test",
        action="store_true",
        default=True,
        help="average with the mirrored input's maps when testing (default on)",
    )
    a("--no_flip_test", dest="flip_test", action="store_false", help="test without the flip")


def parse_int_list(text, flag):
    try:
        return [int(x) for x in str(text).split(",") if x.strip() != ""]
    except ValueError:
        raise UserError(f"{flag} must be a comma-separated list of integers, got '{text}'") from None


def under_torchrun():
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def torchrun_command(gpus, argv):
    """The command that trains on all of ``gpus``: one process per GPU under torchrun."""
    rest, args = [], iter(argv)
    for arg in args:
        if arg == "--gpus":
            next(args, None)
        elif not arg.startswith("--gpus="):
            rest.append(arg)
    main = os.path.relpath(os.path.join(SRC_DIR, "main.py"))
    return shlex.join(["torchrun", "--nproc_per_node", str(len(gpus)), main, *rest, "--gpus", ",".join(map(str, gpus))])


def select_device(gpus, log=print, argv=()):
    """The torch device for ``--gpus``: CPU for -1, and CPU with a notice when CUDA is absent.

    Several ids need one process per GPU (torchrun; distributed.setup gives each local rank its id);
    a single process refuses them with the torchrun command line rather than use only the first.
    """
    import torch  # here: the parsers stay light

    if gpus[0] < 0:
        return torch.device("cpu")
    if len(gpus) > 1 and not under_torchrun():
        raise UserError(
            f"--gpus {','.join(map(str, gpus))}: one process uses one GPU (give one id); to "
            f"train on {len(gpus)} GPUs run: {torchrun_command(gpus, argv)}"
        )
    if not torch.cuda.is_available():
        log(f"notice: --gpus {','.join(map(str, gpus))} asked for CUDA, which is not available; running on the CPU")
        return torch.device("cpu")
    count = torch.cuda.device_count()
    bad = [g for g in gpus if g >= count]
    if bad:
        raise UserError(
            f"--gpus {','.join(map(str, gpus))}: this machine has {count} CUDA device(s) "
            f"(ids 0..{count - 1}); use -1 for the CPU"
        )
    return torch.device("cuda", gpus[0])


def finish_network_options(opt, fetch=True):
    """Check the network's options and derive the input size and heads (``fetch`` False: a released
    model's name is kept, for ``weights.checkpoint_path`` when the model is built)."""
    opt.input_h = opt.input_h if opt.input_h > 0 else 256
    opt.input_w = opt.input_w if opt.input_w > 0 else 256
    if opt.input_h % 32 or opt.input_w % 32:
        raise UserError(f"--input_h/--input_w must be multiples of 32, got {opt.input_h}x{opt.input_w}")
    resolve_checkpoint(opt, fetch=fetch)  # --arch/--task defaults, and a released model's name becomes its file
    opt.heads = {} if opt.task == TEMPORAL else heads_for(opt.task)
    return opt


def finish_model_options(opt, log=print, argv=None, fetch=True):
    """Check the model options and derive input size, heads, gpus and device (``argv``: the
    command line, for the torchrun hint of several --gpus; default sys.argv)."""
    finish_network_options(opt, fetch)
    opt.gpus = parse_int_list(opt.gpus, "--gpus") or [-1]
    opt.device = select_device(opt.gpus, log, sys.argv[1:] if argv is None else argv)
    return opt
