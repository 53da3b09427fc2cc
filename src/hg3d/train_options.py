"""The training options of ``main.py`` / ``hg3d-train``: data, runs, schedule, losses,
augmentation and testing, on top of the model options (``options``), and the settings derived from
them (heatmap size, metric, paths). Flag names and defaults follow the original release.
"""

import os

from .archs import TASKS
from .datasets import DATASETS, dataset_name
from .errors import UserError
from .metrics.mpi_inf_3dhp import SCALE_MODES
from .options import TEMPORAL, finish_model_options, home_dir, model_parser, parse_int_list


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
    a(
        "--multiview",
        action="store_true",
        help="H36M --test on the official release's conversion: also triangulate the cameras' 2D joints of each "
        "frame with the release's calibration and score them in its world frame (docs/multiview.md)",
    )
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
    a(
        "--test_split",
        default="test",
        choices=("test", "validation", "train"),
        help="split evaluated by --test: 3DPW's three; Human3.6M's test (the Val cache) or train (the Train cache)",
    )
    a(
        "--save_sequences",
        default="",
        metavar="FILE",
        help="with --test on --dataset h36m converted from the official release: also write every frame's "
        "prediction as pose sequences (HDF5) for --task temporal (docs/temporal.md); implies --full_test",
    )
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
    t(
        "--input_noise_mm",
        type=float,
        default=30.0,
        help="std (mm, per coordinate) of the noise added to the 3D inputs of training sequences whose inputs "
        "are ground truth (attribute inputs=ground_truth); 0: none",
    )
    t(
        "--input_noise_px",
        type=float,
        default=4.0,
        help="the same for their 2D inputs (image pixels)",
    )
    return p


def finalize(opt, log=print, argv=None):
    """Check main.py's values and derive the model settings, heatmap size, metric and paths."""
    opt.lr_step = parse_int_list(opt.lr_step, "--lr_step")
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
        (opt.multiview and not opt.test, "--multiview scores a test: add --test (and --load_model)"),
        (
            opt.multiview and opt.dataset != "h36m",
            f"--multiview triangulates Human3.6M's cameras: use --dataset h36m, not {opt.dataset} "
            "(other calibrated cameras: hg3d-triangulate)",
        ),
        (
            opt.multiview and opt.test_split == "train",
            "--multiview scores the test subjects, whose calibration the converter stores: drop --test_split train",
        ),
        (
            opt.test and opt.test_split == "validation" and opt.dataset in ("h36m", "fusion_3d"),
            "Human3.6M has no validation split: --test_split test (the test subjects) or train",
        ),
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
    if opt.save_sequences:
        checks += save_sequences_checks(opt)
        opt.full_test = True  # every frame of every video
    for failed, message in checks:
        if failed:
            raise UserError(message)
    finish_model_options(opt, log, argv)
    if opt.task == "human2d" and dataset.is_3d:
        raise UserError(f"--dataset {opt.dataset} is a 3D dataset: add --task human3d")
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
        (
            opt.input_noise_mm < 0 or opt.input_noise_px < 0,
            f"--input_noise_mm and --input_noise_px must be >= 0, got {opt.input_noise_mm:g}, {opt.input_noise_px:g}",
        ),
    ]


def save_sequences_checks(opt):
    """(failed, message) pairs of --save_sequences."""
    return [
        (not opt.test, "--save_sequences writes what --test predicts: add --test"),
        (
            opt.task == TEMPORAL or opt.dataset != "h36m",
            "--save_sequences is for the frame model's --test on --dataset h36m (--task human3d)",
        ),
        (os.path.isdir(opt.save_sequences), f"--save_sequences {opt.save_sequences} is a folder: give a file name"),
        (
            not os.path.isdir(os.path.dirname(os.path.abspath(opt.save_sequences))),
            f"--save_sequences {opt.save_sequences}: its folder does not exist (create it first)",
        ),
    ]


def parse_opts(argv=None, prog="main.py", log=print):
    """Parse ``argv`` (default: sys.argv[1:]) into the finished options namespace."""
    return finalize(build_parser(prog).parse_args(argv), log, argv)
