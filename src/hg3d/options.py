"""Every command-line flag, its default, and the settings derived from them (heads, device, paths).

Two groups: the *model options* (``add_model_options``: architecture, task, checkpoint, input
size, device, flip test), which every command that runs the network reads (``hg3d-demo`` and
``hg3d-export`` read only these), and the *training options* of ``main.py`` / ``hg3d-train``
(``build_parser``: data, runs, schedule, losses, augmentation, testing). Flag names and defaults
follow the original release, so its README's commands work unchanged.
"""

import os
import shlex
import sys

import torch

from .datasets import DATASETS, dataset_name
from .errors import OneLineParser, UserError
from .metrics.mpi_inf_3dhp import SCALE_MODES
from .model import ARCHS, TASKS, heads_for

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
    """The flags that say which network runs, on what input size, where, and with which weights
    (``tasks``: the frame model's, and for hg3d-train also ``temporal``)."""
    a = parser.add_argument_group("model").add_argument
    a("--arch", default="msra_50", choices=ARCHS, help="ResNet depth of the backbone")
    a(
        "--task",
        default="human2d",
        choices=tasks,
        help="human2d: heatmaps; human3d: + depth maps; temporal (hg3d-train): the temporal model over pose "
        "sequences (docs/temporal.md)",
    )
    a("--load_model", default="", help=load_model_help)
    a("--gpus", default="0", help="CUDA device ids, e.g. 0 or 0,1; -1 for the CPU")
    a("--input_h", type=int, default=-1, help="input height (default 256)")
    a("--input_w", type=int, default=-1, help="input width (default 256)")
    a(
        "--flip_test",
        dest="flip_test",
        action="store_true",
        default=True,
        help="average with the mirrored input's maps when testing (default on)",
    )
    a("--no_flip_test", dest="flip_test", action="store_false", help="test without the flip")


def build_parser(prog="main.py"):
    """main.py's parser: the model options and those of training and testing."""
    p = model_parser(
        prog,
        "hg3d: train and test 3D human pose estimation.",
        load_model_help="checkpoint to test, or to initialise training from",
        tasks=(*TASKS, TEMPORAL),
    )
    a = p.add_argument_group("training and testing").add_argument
    home = home_dir()
    # experiment
    a("--exp_id", default="default", help="name of the run; outputs go to <exp_dir>/<exp_id>/")
    a("--dataset", default="mpii", type=dataset_name, choices=tuple(DATASETS))
    a(
        "--no_pretrained",
        dest="pretrained",
        action="store_false",
        help="train from random init instead of torchvision's ImageNet backbone",
    )
    a("--resume", action="store_true", help="continue <exp_dir>/<exp_id>/model_last.pth")
    a(
        "--overwrite",
        action="store_true",
        help="train anew in an <exp_dir>/<exp_id>/ that holds checkpoints, replacing them and its logs",
    )
    a("--test", action="store_true", help="evaluate --load_model on the validation split")
    a("--full_test", action="store_true", help="test on every sample (default: every 10th of H36M)")
    a("--data_dir", default=os.path.join(home, "data"), help="root of the datasets (default: %(default)s)")
    a("--exp_dir", default=os.path.join(home, "exp"), help="root of the run outputs (default: %(default)s)")
    a("--num_workers", type=int, default=4, help="data-loading processes")
    a("--seed", type=int, default=317)
    # output
    a("--output_h", type=int, default=-1, help="heatmap height (default input / 4)")
    a("--output_w", type=int, default=-1, help="heatmap width (default input / 4)")
    # training
    a("--lr", type=float, default=1e-3)
    a("--lr_step", default="90,120", help="epochs after which lr drops 10x, comma separated")
    a("--num_epoch", "--num_epochs", dest="num_epoch", type=int, default=140)
    a("--batch_size", type=int, default=32, help="per process under torchrun")
    a(
        "--test_batch_size",
        type=int,
        default=0,
        help="batch size of validation and testing (default: 16 on CUDA, 1 on the CPU, the fastest there)",
    )
    a("--val_intervals", type=int, default=5, help="validate every this many epochs")
    a("--save_all_models", action="store_true", help="keep model_<epoch>.pth of every epoch")
    a("--amp", action="store_true", help="mixed precision (and channels_last) on CUDA")
    a("--sync_bn", action="store_true", help="SyncBatchNorm across processes (torchrun, CUDA)")
    a("--print_iter", type=int, default=0, help="print a line every n iterations (0: progress bar)")
    # loss
    a("--ratio_3d", type=float, default=0, help="3D samples per 2D sample in fusion training")
    a("--ratio_3dpw", type=float, default=0, help="3DPW samples per 2D sample (fusion_3dpw)")
    a("--test_split", default="test", choices=("test", "validation", "train"), help="3DPW split evaluated by --test")
    a("--smpl_dir", default="", help="3DPW: the SMPL model files (SMPL_MALE.pkl, ...) for the 14-joint protocol")
    a("--j_regressor_h36m", default="", help="3DPW: SPIN's J_regressor_h36m.npy (17 x 6890), with --smpl_dir")
    a(
        "--mpi_scale",
        default="gt_bones",
        choices=SCALE_MODES,
        help="MPI-INF-3DHP test: scale predictions so their bones sum to the ground truth's, with the "
        "paper's hip shift (gt_bones), or to 4000 mm as for Human3.6M (h36m)",
    )
    a("--weight_3d", type=float, default=0, help="weight of the depth regression loss")
    a("--weight_var", type=float, default=0, help="weight of the bone-length variance loss")
    # augmentation
    a("--scale", type=float, default=0.25, help="scale augmentation (std, clipped at 1 +- s)")
    a("--rotate", type=float, default=30, help="rotation augmentation in degrees (std)")
    a("--flip", type=float, default=0.5, help="probability of a horizontal flip")
    a("--hm_gauss", type=float, default=2, help="sigma of the target Gaussians")
    a("--fit_short_side", action="store_true", help="fit boxes to the aspect ratio by shrinking")
    t = p.add_argument_group("the temporal model (--task temporal, docs/temporal.md)").add_argument
    t("--sequences", default="", help="pose sequences (HDF5) to train on, or with --test to test on")
    t("--val_sequences", default="", help="pose sequences (HDF5) to validate on while training")
    t("--frames", type=int, default=27, choices=(27, 81, 243), help="receptive field in frames")
    t("--causal", action="store_true", help="see only the past: each output is the window's last frame")
    t("--channels", type=int, default=256, help="width of the temporal convolutions")
    t("--dropout", type=float, default=0.25, help="dropout of the temporal model")
    t("--weight_velocity", type=float, default=1.0, help="weight of the velocity error in the temporal loss")
    return p


def _parse_int_list(text, flag):
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


def finish_model_options(opt, log=print, argv=None):
    """Check the model options and derive gpus, input size, heads and device (``argv``: the
    command line, for the torchrun hint of several --gpus; default sys.argv)."""
    opt.gpus = _parse_int_list(opt.gpus, "--gpus") or [-1]
    opt.input_h = opt.input_h if opt.input_h > 0 else 256
    opt.input_w = opt.input_w if opt.input_w > 0 else 256
    if opt.input_h % 32 or opt.input_w % 32:
        raise UserError(f"--input_h/--input_w must be multiples of 32, got {opt.input_h}x{opt.input_w}")
    opt.heads = {} if opt.task == TEMPORAL else heads_for(opt.task)
    opt.device = select_device(opt.gpus, log, sys.argv[1:] if argv is None else argv)
    return opt


def finalize(opt, log=print, argv=None):
    """Check main.py's values and derive the model settings, heatmap size, metric and paths."""
    opt.lr_step = _parse_int_list(opt.lr_step, "--lr_step")
    dataset = DATASETS[opt.dataset]
    checks = [
        (opt.ratio_3d < 0, f"--ratio_3d must be >= 0, got {opt.ratio_3d}"),
        (opt.ratio_3dpw < 0, f"--ratio_3dpw must be >= 0, got {opt.ratio_3dpw}"),
        (opt.weight_3d < 0 or opt.weight_var < 0, "--weight_3d and --weight_var must be >= 0"),
        (opt.batch_size < 1 or opt.test_batch_size < 0, "--batch_size and --test_batch_size must be >= 1"),
        (opt.num_epoch < 0, f"--num_epoch must be >= 0, got {opt.num_epoch}"),
        (opt.lr <= 0, f"--lr must be > 0, got {opt.lr}"),
        (opt.num_workers < 0, "--num_workers must be >= 0"),
        (opt.val_intervals < 1, "--val_intervals must be >= 1"),
        (not 0 <= opt.flip <= 1, f"--flip is a probability, got {opt.flip}"),
        (opt.scale < 0 or opt.scale >= 1, f"--scale must be in [0, 1), got {opt.scale}"),
        (opt.hm_gauss <= 0, f"--hm_gauss must be > 0, got {opt.hm_gauss}"),
        (opt.resume and opt.test, "--resume continues training; use --load_model with --test"),
        (
            dataset.test_only and not opt.test,
            f"--dataset {opt.dataset} is a test set: add --test (training on it is not supported)",
        ),
        (opt.resume and opt.overwrite, "--resume continues a run, --overwrite replaces it: pick one"),
        (opt.task == "human2d" and dataset.is_3d, f"--dataset {opt.dataset} is a 3D dataset: add --task human3d"),
        (
            bool(opt.smpl_dir) != bool(opt.j_regressor_h36m),
            "3DPW's 14-joint protocol needs both --smpl_dir and --j_regressor_h36m (docs/protocols_3dpw.md)",
        ),
        (
            bool(opt.smpl_dir) and opt.dataset not in ("threedpw", "fusion_3dpw"),
            f"--smpl_dir is for 3DPW's 14-joint protocol; --dataset {opt.dataset} does not use it",
        ),
    ]
    if opt.task == TEMPORAL:
        checks += temporal_checks(opt)
    for failed, message in checks:
        if failed:
            raise UserError(message)
    finish_model_options(opt, log, argv)
    opt.output_h = opt.output_h if opt.output_h > 0 else opt.input_h // 4
    opt.output_w = opt.output_w if opt.output_w > 0 else opt.input_w // 4
    if (opt.output_h * 4, opt.output_w * 4) != (opt.input_h, opt.input_w):
        raise UserError(
            f"the network's output is input / 4: --output_h/w {opt.output_h}x{opt.output_w} "
            f"does not fit input {opt.input_h}x{opt.input_w}"
        )
    opt.metric = "mpjpe" if opt.task in ("human3d", TEMPORAL) else "acc"
    if opt.test_batch_size == 0:
        opt.test_batch_size = 16 if opt.device.type == "cuda" else 1
    opt.data_dir = os.path.abspath(opt.data_dir)
    opt.exp_dir = os.path.abspath(opt.exp_dir)
    opt.save_dir = os.path.join(opt.exp_dir, opt.exp_id)
    return opt


def temporal_checks(opt):
    """(failed, message) pairs of --task temporal's flags."""
    return [
        (not opt.sequences, "--task temporal needs --sequences FILE (make sample ones: hg3d-sample-data --sequences)"),
        (not opt.test and not opt.val_sequences, "--task temporal training needs --val_sequences FILE"),
        (opt.test and not opt.load_model, "--test needs --load_model <checkpoint of --task temporal>"),
        (
            opt.batch_size % 2,
            f"--task temporal: --batch_size counts frames in pairs: give an even number, not {opt.batch_size}",
        ),
        (opt.channels < 1, f"--channels must be >= 1, got {opt.channels}"),
        (not 0 <= opt.dropout < 1, f"--dropout must be in [0, 1), got {opt.dropout}"),
        (opt.weight_velocity < 0, f"--weight_velocity must be >= 0, got {opt.weight_velocity}"),
    ]


def parse_opts(argv=None, prog="main.py", log=print):
    """Parse ``argv`` (default: sys.argv[1:]) into the finished options namespace."""
    return finalize(build_parser(prog).parse_args(argv), log, argv)
