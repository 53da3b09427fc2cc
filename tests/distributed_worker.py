"""Run under torchrun by test_distributed.py: a few DDP training steps through hg3d's own pieces,
then each rank saves its parameters and the losses it saw."""

import sys

import torch

from hg3d import distributed
from hg3d.datasets import get_dataset
from hg3d.evaluate import build_loader
from hg3d.model import create_model
from hg3d.train_options import parse_opts
from hg3d.trainer import Trainer, to_device

ARGS = sys.argv[2:]


def main():
    out_dir = sys.argv[1]
    opt = distributed.setup(parse_opts(ARGS, log=lambda _: None))
    torch.manual_seed(0)
    model = create_model(opt.arch, opt.heads)
    trainer = Trainer(opt, model, torch.optim.SGD(model.parameters(), 0.05))
    trainer.model = distributed.wrap_model(model, opt)
    loader = build_loader(opt, get_dataset(opt, "train"), train=True)
    loader.sampler.set_epoch(1)
    losses = []
    model.train()
    for batch in loader:
        batch = to_device(batch, opt.device)
        loss, _ = trainer.loss(trainer.forward(batch["input"]), batch)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        losses.append(loss.item())
    torch.save(
        {"losses": losses, "params": {k: v.detach().clone() for k, v in model.named_parameters()}},
        f"{out_dir}/rank{opt.rank}.pt",
    )
    distributed.cleanup(opt)


if __name__ == "__main__":
    main()
