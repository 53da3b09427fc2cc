"""The torch network made ready for inference only: every batch norm folded into the convolution
(or transposed convolution) that feeds it, and the weights in ``channels_last`` memory format.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be multiplied into the
weights and bias of the layer before it: one pass over the activations instead of two, the same
numbers up to float32 rounding. Only for running a finished network (``Estimator.from_checkpoint``):
a folded network has no batch norm left to train, and its weights no longer match a checkpoint.
"""

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

FOLDABLE = (nn.Conv2d, nn.ConvTranspose2d)


def conv_bn_pairs(model):
    """(convolution name, batch norm name) of each batch norm whose only input is a convolution's
    output that nothing else reads, found from the traced forward pass (not the module order)."""
    modules = dict(model.named_modules())
    pairs = []
    for node in fx.symbolic_trace(model).graph.nodes:
        if node.op != "call_module" or not isinstance(modules[node.target], nn.BatchNorm2d):
            continue
        source = node.args[0]
        if (
            isinstance(source, fx.Node)
            and source.op == "call_module"
            and isinstance(modules[source.target], FOLDABLE)
            and len(source.users) == 1
        ):
            pairs.append((source.target, node.target))
    return pairs


def replace_module(model, name, module):
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


@torch.no_grad()
def fold_batch_norms(model):
    """``model`` (changed in place, and returned) in eval mode with each foldable batch norm
    multiplied into its convolution and replaced by ``nn.Identity``. A transposed convolution's
    weight is (in, out, kh, kw): its output channels are the second axis."""
    model.eval()
    for conv_name, bn_name in conv_bn_pairs(model):
        conv, bn = model.get_submodule(conv_name), model.get_submodule(bn_name)
        replace_module(model, conv_name, fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d)))
        replace_module(model, bn_name, nn.Identity())
    return model


def prepare_for_inference(model):
    """The network folded (``fold_batch_norms``) and in ``channels_last``, for the torch backend."""
    return fold_batch_norms(model).to(memory_format=torch.channels_last)
