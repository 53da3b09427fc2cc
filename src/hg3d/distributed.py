"""Several processes, GPUs or machines with torchrun and DistributedDataParallel.

``torchrun --nproc_per_node N src/main.py ...`` (and ``--nnodes``/``--node_rank``/``--rdzv_*`` for
several machines) starts one process per GPU (or per CPU worker with the gloo backend). Each
process trains on its shard of every batch (``--batch_size`` is per process: the global batch is
N x batch_size), gradients are averaged by DDP, only rank 0 writes logs and checkpoints, and
validation predictions are gathered from all ranks. Without torchrun nothing here is active.
"""

import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .errors import UserError


def setup(opt, log=print):
    """Read torchrun's environment into ``opt`` (rank, world_size, distributed) and join the group."""
    opt.world_size = int(os.environ.get("WORLD_SIZE", "1"))
    opt.rank = int(os.environ.get("RANK", "0"))
    opt.distributed = opt.world_size > 1
    if not opt.distributed:
        return opt
    if opt.device.type == "cuda":
        opt.device = torch.device("cuda", local_gpu(opt.gpus))
        torch.cuda.set_device(opt.device)
    dist.init_process_group("nccl" if opt.device.type == "cuda" else "gloo")
    if opt.sync_bn and opt.device.type != "cuda" and opt.rank == 0:
        log(
            "notice: --sync_bn needs CUDA (PyTorch's SyncBatchNorm is GPU-only); each process "
            "normalises over its own part of the batch"
        )
    return opt


def local_gpu(gpus):
    """This process's GPU: local rank i takes the i-th id of ``--gpus`` when it lists one per
    process, or GPU i when it gives a single id (the default 0)."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    ids = ",".join(map(str, gpus))
    if len(gpus) > 1 and len(gpus) != local_size:
        raise UserError(
            f"--gpus {ids} lists {len(gpus)} GPUs for {local_size} processes on this machine: "
            f"give one id per process, or one id (process i then uses GPU i)"
        )
    gpu = gpus[local_rank] if len(gpus) > 1 else local_rank
    if gpu >= torch.cuda.device_count():
        raise UserError(
            f"local rank {local_rank} has no GPU {gpu} ({torch.cuda.device_count()} visible): "
            f"lower --nproc_per_node or fix --gpus"
        )
    return gpu


def is_main(opt):
    return getattr(opt, "rank", 0) == 0


def wrap_model(model, opt):
    """DDP around the model (after SyncBatchNorm conversion with --sync_bn on CUDA)."""
    if not getattr(opt, "distributed", False):
        return model
    if opt.sync_bn and opt.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[opt.device.index] if opt.device.type == "cuda" else None
    )


def sampler(dataset, opt, train):
    """Each rank's shard of ``dataset`` (shuffled per epoch for training), or None."""
    if not getattr(opt, "distributed", False):
        return None
    return torch.utils.data.distributed.DistributedSampler(
        dataset, num_replicas=opt.world_size, rank=opt.rank, shuffle=train, seed=opt.seed, drop_last=train
    )


def mean_over_ranks(values, opt):
    """Average a dict of numbers over the ranks (for the logged training losses)."""
    if not getattr(opt, "distributed", False) or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=opt.device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / opt.world_size).tolist()))


def true_on_all_ranks(flag, opt):
    """Whether the boolean tensor ``flag`` is true on every rank (so that all ranks stop together
    on a NaN loss); one host-device sync."""
    value = flag.to(torch.float32)
    if getattr(opt, "distributed", False):
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def gather_predictions(result, opt):
    """All ranks' per-sample arrays of ``Trainer.predict``, each sample once, sorted by index.

    DistributedSampler pads the last shard with repeated samples; they are dropped here.
    """
    if not getattr(opt, "distributed", False):
        return result
    parts = [None] * opt.world_size
    dist.all_gather_object(parts, result)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in result if k != "loss"}
    _, first = np.unique(arrays["index"], return_index=True)
    merged = {k: v[first] for k, v in arrays.items()}
    merged["loss"] = {k: float(np.mean([p["loss"][k] for p in parts])) for k in result["loss"]}
    return merged


def barrier(opt):
    """Wait until every rank reaches this point (nothing without torchrun)."""
    if getattr(opt, "distributed", False) and dist.is_initialized():
        dist.barrier()


def finish(opt):
    """Wait until every rank is done before any leaves: a rank that tears down its process group
    while rank 0 is still writing results can leave rank 0 hanging in its own teardown (seen with
    gloo under load). Only on success: after an error torchrun stops the other ranks."""
    barrier(opt)


def cleanup(opt):
    if getattr(opt, "distributed", False) and dist.is_initialized():
        dist.destroy_process_group()
