"""The torch network made ready for inference only: every batch norm folded into the convolution
(or transposed convolution) that feeds it, and the weights in ``channels_last`` memory format.

In eval mode a batch norm is a fixed per-channel scale and shift, so it can be multiplied into the
weights and bias of the layer before it: one pass over the activations instead of two, the same
numbers up to float32 rounding. Only for running a finished network (``Estimator.from_checkpoint``):
a folded network has no batch norm left to train, and its weights no longer match a checkpoint.

For int8 on ONNX Runtime the deconvolutions are also rewritten as sub-pixel convolutions
(``subpixel_deconvolutions``): ONNX Runtime has no int8 kernel for a transposed convolution.
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


# For a transposed convolution of kernel 4, stride 2, padding 1: the output row 2m + phase reads the
# input rows m + offset through kernel row SUBPIXEL_TAPS[phase][offset] (the same for columns).
SUBPIXEL_TAPS = ({-1: 3, 0: 1}, {0: 2, 1: 0})


@torch.no_grad()
def subpixel_deconvolution(deconv):
    """``deconv`` (kernel 4, stride 2, padding 1) as the same function: a 3x3 convolution to four
    times the output channels, one per output phase (row and column parity), whose outputs
    ``nn.PixelShuffle(2)`` interleaves. Taps a phase does not read are zero."""
    weight = deconv.weight  # (in, out, 4, 4)
    channels_in, channels_out = weight.shape[:2]
    kernel = weight.new_zeros(channels_out, 2, 2, channels_in, 3, 3)
    for row_phase, row_taps in enumerate(SUBPIXEL_TAPS):
        for col_phase, col_taps in enumerate(SUBPIXEL_TAPS):
            for dy, ky in row_taps.items():
                for dx, kx in col_taps.items():
                    kernel[:, row_phase, col_phase, :, dy + 1, dx + 1] = weight[:, :, ky, kx].T
    conv = nn.Conv2d(channels_in, 4 * channels_out, 3, padding=1, bias=deconv.bias is not None)
    conv.weight.copy_(kernel.reshape(4 * channels_out, channels_in, 3, 3))
    if deconv.bias is not None:
        conv.bias.copy_(deconv.bias.repeat_interleave(4))
    return nn.Sequential(conv, nn.PixelShuffle(2))


def subpixel_deconvolutions(model):
    """``model`` (changed in place, and returned) with each transposed convolution of kernel 4,
    stride 2, padding 1 (the deconvolution head's) replaced by ``subpixel_deconvolution``; fold the
    batch norms first, which cannot follow the pixel shuffle into the convolution."""
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.ConvTranspose2d) and _is_subpixel_shaped(module):
            replace_module(model, name, subpixel_deconvolution(module))
    return model


def _is_subpixel_shaped(deconv):
    return (
        deconv.kernel_size == (4, 4)
        and deconv.stride == (2, 2)
        and deconv.padding == (1, 1)
        and deconv.output_padding == (0, 0)
        and deconv.dilation == (1, 1)
        and deconv.groups == 1
    )


def prepare_for_inference(model):
    """The network folded (``fold_batch_norms``) and in ``channels_last``, for the torch backend."""
    return fold_batch_norms(model).to(memory_format=torch.channels_last)
