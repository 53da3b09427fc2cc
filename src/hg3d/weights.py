"""The released checkpoints by name: ``--load_model fusion_3d_var`` finds, fetches, checks and caches them.

A name is ``models/NAME.pth`` when that file is there, else the copy in torch's hub cache
(``<hub>/checkpoints/hg3d/NAME.pth``, ``$TORCH_HOME/hub`` when set), else it is downloaded into that
cache: from Google Drive, where the original authors published the files (through gdown, which gets
past Drive's confirm page for large files), or from ``$HG3D_WEIGHTS_URL/NAME.pth`` (a mirror, a lab
server). A download is kept only once it loads strictly as the release's network; the SHA-256 of
that first good copy is recorded beside it (``NAME.pth.sha256``, ``sha256sum`` format) and checked
on every later use, so a cached file that changed is noticed rather than trusted.

``hg3d-fetch`` (``run_fetch``) downloads the releases and the demo's detector weights ahead of time,
for a machine without internet.
"""

import glob
import os
import socket
from collections import namedtuple

from .errors import OneLineParser, UserError
from .files import sha256_of

Release = namedtuple("Release", "drive_id arch task about")

# The original project's released models (their Google Drive ids) and the network each one is.
RELEASES = {
    "fusion_3d_var": Release(
        "1_2CCb_qsA1egT5c2s0ABuW3rQCDOLvPq",
        "msra_50",
        "human3d",
        "stage 3: MPII + Human3.6M with the bone-length variance loss, 64.55 mm H36M MPJPE",
    ),
    "fusion_3d": Release("13d3AqzA85TSO7o1F8aq_ptnAkJ7LSp9-", "msra_50", "human3d", "stage 2: MPII + Human3.6M"),
    "mpii": Release("1WqW1-_gCyGTB80m9MK_KUoD0dtElEQzv", "msra_50", "human2d", "stage 1: 2D heatmaps on MPII"),
}
DEMO_MODEL = "fusion_3d_var"
DEFAULT_ARCH = "msra_50"  # --arch when neither the flag nor a released model's name says
URL_ENV = "HG3D_WEIGHTS_URL"
DOWNLOAD_TIMEOUT_S = 30  # a blocked network gives up instead of hanging (HG3D_WEIGHTS_URL downloads)
DRIVE_URL = "https://drive.google.com/uc?id={}"


def hub_dir():
    """torch's hub cache (``$TORCH_HOME/hub``); torch is imported here: the parsers stay light."""
    import torch

    return torch.hub.get_dir()


def cache_dir():
    return os.path.join(hub_dir(), "checkpoints", "hg3d")


def cached_path(name):
    return os.path.join(cache_dir(), f"{name}.pth")


def local_path(name):
    """``models/NAME.pth``: a copy put there by hand comes first."""
    from .options import home_dir  # options imports this module

    return os.path.join(home_dir(), "models", f"{name}.pth")


def source_url(name):
    """Where release ``name`` is downloaded from: the mirror of $HG3D_WEIGHTS_URL, else Google Drive."""
    base = os.environ.get(URL_ENV, "").strip()
    return f"{base.rstrip('/')}/{name}.pth" if base else DRIVE_URL.format(RELEASES[name].drive_id)


def resolve_checkpoint(opt, log=print, fetch=True):
    """Fill the model options a released model decides and turn its name into a file.

    ``--arch``/``--task`` left unset become the release's (``--load_model mpii`` is msra_50 human2d),
    else msra_50 and the command's task (``opt.default_task``); a release's name in ``--load_model``
    becomes its file (``checkpoint_file``) unless ``fetch`` is False (the demo fetches it when it
    builds the model, after its inputs are checked). Given flags are kept: training may seed a
    human3d network from the 2D release.
    """
    release = RELEASES.get(opt.load_model)
    opt.arch = opt.arch or (release.arch if release else DEFAULT_ARCH)
    opt.task = opt.task or (release.task if release else opt.default_task)
    if release and fetch:
        opt.load_model = checkpoint_file(opt.load_model, log)
    return opt


def checkpoint_path(spec, log=print):
    """The file of ``--load_model``: a release's (fetched when needed), else ``spec`` itself."""
    return checkpoint_file(spec, log) if spec in RELEASES else spec


def checkpoint_file(name, log=print):
    """The file of release ``name``: models/, else the checked cache copy, else a fresh download."""
    local = local_path(name)
    if os.path.isfile(local):
        return local
    path = cached_path(name)
    if os.path.isfile(path):
        check_recorded_hash(path)
    else:
        download(name, log)
    return path


def hash_record(path):
    return f"{path}.sha256"


def check_recorded_hash(path):
    """A cached checkpoint must still be the download whose SHA-256 was recorded (a file without a
    record was put there by hand and is used as it is, like one in models/)."""
    record = hash_record(path)
    if not os.path.isfile(record):
        return
    with open(record) as handle:
        expected = handle.read().split(" ")[0].strip()
    actual = sha256_of(path)
    if actual != expected:
        raise UserError(
            f"{path} has changed since it was downloaded (SHA-256 {actual[:16]}..., recorded "
            f"{expected[:16]}... in {record}): delete both files to download it again"
        )


def download(name, log=print):
    """Download release ``name`` into the cache: to a temporary file, kept (with its SHA-256
    record) only when it loads strictly as the release's network; nothing is left on failure."""
    from .files import TEMP_PREFIX, atomic_write

    release, url, path = RELEASES[name], source_url(name), cached_path(name)
    try:
        os.makedirs(cache_dir(), exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the weights cache {cache_dir()}: {exc.strerror or exc} (set TORCH_HOME)"
        ) from None
    tmp = os.path.join(cache_dir(), f"{TEMP_PREFIX}{name}-{os.getpid()}.pth")
    log(f"downloading {name} ({release.about}) from {url} into {path}")
    try:
        try:
            fetch_url(url, release, tmp)
        except Exception as exc:  # offline, refused, timed out, not found, Drive's quota page
            raise UserError(
                f"cannot download {name} from {url} ({failure_reason(exc)}): download it by hand into "
                f"{local_path(name)}, or set {URL_ENV} to a server that has {name}.pth"
            ) from None
        try:
            verify_checkpoint(tmp, release)
        except UserError as exc:
            detail = str(exc).replace(f"checkpoint {tmp}", "it")
            raise UserError(f"the download of {url} is not the {name} checkpoint, deleted it: {detail}") from None
        digest = sha256_of(tmp)
        atomic_write(hash_record(path), lambda record: write_text(record, f"{digest}  {name}.pth\n"))
        os.replace(tmp, path)
    finally:
        for leftover in glob.glob(glob.escape(tmp) + "*"):  # the file and the downloaders' partial files
            os.remove(leftover)
    log(f"saved {path} ({os.path.getsize(path) / 1e6:.1f} MB, SHA-256 {digest[:16]}...)")


def failure_reason(exc):
    """Why a download failed, in a short line: the innermost ``reason`` of urllib's and urllib3's
    wrappers (a refused connection, an unknown host), else the exception itself."""
    while True:
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException) and exc.args:
            inner = getattr(exc.args[0], "reason", None)  # requests' ConnectionError wraps urllib3's
        if not isinstance(inner, BaseException):
            return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        exc = inner


def write_text(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def fetch_url(url, release, dst):
    """Write ``url`` to ``dst`` with a progress bar: Google Drive through gdown, a mirror through torch.hub."""
    if os.environ.get(URL_ENV, "").strip():
        import torch

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            torch.hub.download_url_to_file(url, dst, progress=True)
        finally:
            socket.setdefaulttimeout(previous)
    else:
        import gdown

        gdown.download(id=release.drive_id, output=dst, quiet=False)


def verify_checkpoint(path, release):
    """Load ``path`` strictly as the release's network: a truncated file or another network is a UserError."""
    from .checkpoint import load_model

    load_model(path, release.arch, release.task)


def run_fetch(argv=None):
    """``hg3d-fetch``: download releases and detector weights ahead of time, or ``--list`` the cache."""
    from .demo.options import DETECTORS

    parser = OneLineParser(
        prog="fetch.py",
        description="Download released hg3d models and the demo's person-detector weights into torch's hub "
        "cache ($TORCH_HOME/hub), e.g. to copy that folder to a machine without internet.",
        epilog=f"Releases: {', '.join(f'{n} ({r.about})' for n, r in RELEASES.items())}. {URL_ENV}: a base URL "
        "to download NAME.pth from instead of Google Drive.",
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"released models (default: {DEMO_MODEL}, unless --detector is given)"
    )
    parser.add_argument(
        "--detector",
        nargs="+",
        choices=("auto", "none", *DETECTORS),
        help="detector weights to fetch (default auto: the one the demo picks on this machine; none: no detector)",
    )
    parser.add_argument("--list", action="store_true", help="show what is cached (and in models/), download nothing")
    opt = parser.parse_args(argv)
    unknown = [n for n in opt.names if n not in RELEASES]
    if unknown:
        raise UserError(f"no released model is called {', '.join(unknown)}: the names are {', '.join(RELEASES)}")
    if opt.list:
        list_cache()
        return
    for name in dict.fromkeys(opt.names or ([] if opt.detector else [DEMO_MODEL])):
        show(name, checkpoint_file(name))
    for name in detectors_to_fetch(opt.detector or ["auto"]):
        show(name, fetch_detector(name))


def detectors_to_fetch(choices):
    import torch

    from .demo.detection import auto_detector

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return list(dict.fromkeys(auto_detector(device) if c == "auto" else c for c in choices if c != "none"))


def fetch_detector(name):
    """The cached COCO weights of detector ``name``, downloaded when missing."""
    from .demo.detection import cached_weights_path, download_weights, weights_url

    path = cached_weights_path(name)
    if not os.path.isfile(path):
        try:
            download_weights(name)
        except Exception as exc:  # offline, refused, timed out, hash mismatch
            raise UserError(
                f"cannot download the {name} detector weights from {weights_url(name)} ({failure_reason(exc)}): "
                f"put that file at {path} by hand"
            ) from None
    return path


def show(name, path, note=""):
    print(f"{name}: {path} ({os.path.getsize(path) / 1e6:.1f} MB{note})")


def list_cache():
    """Where each release and detector's weights are, or that they are not fetched."""
    from .demo.detection import DETECTORS, cached_weights_path

    print(f"hub cache: {hub_dir()} (set TORCH_HOME to use another folder)")
    for name in RELEASES:
        local, path = local_path(name), cached_path(name)
        if os.path.isfile(local):
            show(name, local, ", in models/")
        elif os.path.isfile(path):
            show(name, path, ", SHA-256 recorded" if os.path.isfile(hash_record(path)) else ", no SHA-256 record")
        else:
            print(f"{name}: not fetched (hg3d-fetch {name})")
    for name in DETECTORS:
        path = cached_weights_path(name)
        if os.path.isfile(path):
            show(f"detector {name}", path)
        else:
            print(f"detector {name}: not fetched (hg3d-fetch --detector {name})")
