#!/usr/bin/env bash
# The whole pipeline on a fresh machine, with no download beyond the Python packages: install, sample
# data, the three training stages of the original recipe (shortened: ResNet-18, 64x64 inputs, 6 + 16 + 1
# epochs), the Human3.6M, 3DPW and MPI-INF-3DHP tests (evaluation on the sample data, not the test
# suite) and the demo with its 3D viewer page. About 4 minutes on 2 quiet CPU cores once installed
# (docs/development.md).
# Usage: bash scripts/quickstart.sh [--gpus 0]   (default -1: the CPU; 0: the first CUDA GPU)
# It prints the MPJPE of the untrained network and of the final model on the same validation set.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
# Threads that wait for work sleep instead of spinning: with the default (spinning) a 2-core machine
# that runs anything else besides slows training several-fold, each step waiting on a thread that
# is not running (docs/development.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
REPO=$(pwd)
GPUS=${GPUS:--1}
[ "${1:-}" = "--gpus" ] && GPUS=$2

# Sample data goes to data/ unless real datasets are there (never overwritten): then beside them.
DATA="$REPO/data"
for name in mpii h36m 3dpw mpi_inf_3dhp; do
    if [ -d "$DATA/$name" ] && [ ! -e "$DATA/$name/.hg3d_sample_data" ]; then
        DATA="$REPO/exp/quickstart/data"
        echo "==> real data found in data/$name: writing the sample data to $DATA instead"
        break
    fi
done
echo "==> sample data in $DATA"
"$PY" scripts/make_sample_data.py --out "$DATA" --seed 0

COMMON=(--arch msra_18 --input_h 64 --input_w 64 --batch_size 16 --num_workers 2
        --gpus "$GPUS" --data_dir "$DATA" --print_iter 8)
TRAIN=(--overwrite --no_pretrained "${COMMON[@]}")
TEST=(--task human3d --dataset fusion_3d --test --full_test --arch msra_18 --input_h 64
      --input_w 64 --gpus "$GPUS" --data_dir "$DATA" --num_workers 2)
cd src
echo "==> untrained network (random init, seed 0) on the Human3.6M sample validation set"
mkdir -p ../exp
"$PY" -c "import sys, torch; from hg3d.checkpoint import save_checkpoint; from hg3d.model import create_model
torch.manual_seed(0); save_checkpoint(sys.argv[1], create_model('msra_18', {'hm': 16, 'depth': 16}), 0)" \
    ../exp/quickstart_untrained.pth
"$PY" main.py --exp_id quickstart_untrained --load_model ../exp/quickstart_untrained.pth "${TEST[@]}"
echo "==> stage 1/3: 2D heatmaps on MPII (exp/quickstart_mpii)"
# --no_pretrained: no download here; the recipe proper starts from torchvision's ImageNet ResNet.
"$PY" main.py --exp_id quickstart_mpii --task human2d --dataset mpii --num_epoch 6 \
    --lr_step 5 --val_intervals 6 "${TRAIN[@]}"
echo "==> stage 2/3: MPII + H36M with depth regression (exp/quickstart_fusion_3d)"
"$PY" main.py --exp_id quickstart_fusion_3d --task human3d --dataset fusion_3d --ratio_3d 1 \
    --weight_3d 0.1 --load_model ../exp/quickstart_mpii/model_last.pth --num_epoch 16 \
    --lr_step 14 --val_intervals 8 "${TRAIN[@]}"
echo "==> stage 3/3: + bone-length variance loss (exp/quickstart_fusion_3d_var)"
"$PY" main.py --exp_id quickstart_fusion_3d_var --task human3d --dataset fusion_3d --ratio_3d 1 \
    --weight_3d 0.1 --weight_var 0.01 --load_model ../exp/quickstart_fusion_3d/model_last.pth \
    --num_epoch 1 --lr 1e-4 --lr_step 10 --val_intervals 1 "${TRAIN[@]}"
echo "==> Human3.6M test (exp/quickstart_test)"
"$PY" main.py --exp_id quickstart_test --load_model ../exp/quickstart_fusion_3d_var/model_last.pth "${TEST[@]}"
echo "==> 3DPW test on its synthetic test split (exp/quickstart_test_3dpw)"
"$PY" main.py --exp_id quickstart_test_3dpw --task human3d --dataset 3dpw --test \
    --load_model ../exp/quickstart_fusion_3d_var/model_last.pth --arch msra_18 \
    --input_h 64 --input_w 64 --gpus "$GPUS" --data_dir "$DATA" --num_workers 2
echo "==> MPI-INF-3DHP test on its synthetic test set (exp/quickstart_test_3dhp)"
"$PY" main.py --exp_id quickstart_test_3dhp --task human3d --dataset mpi_inf_3dhp --test \
    --load_model ../exp/quickstart_fusion_3d_var/model_last.pth --arch msra_18 \
    --input_h 64 --input_w 64 --gpus "$GPUS" --data_dir "$DATA" --num_workers 2
if [ -d ../images ]; then
    echo "==> demo on images/ with its 3D viewer pages (exp/quickstart_demo)"
    # --detector none: no download; each sample photo shows one person
    "$PY" demo.py --demo ../images --load_model ../exp/quickstart_fusion_3d_var/model_last.pth \
        --arch msra_18 --input_h 64 --input_w 64 --gpus "$GPUS" --detector none --html \
        --out_dir ../exp/quickstart_demo
fi
mpjpe() { "$PY" -c "import json, sys; print('%.1f' % json.load(open(sys.argv[1]))['mpjpe'])" "$1"; }
echo
echo "Human3.6M sample validation MPJPE: untrained $(mpjpe ../exp/quickstart_untrained/results.json) mm," \
     "trained $(mpjpe ../exp/quickstart_test/results.json) mm"
echo "Done. Outputs:"
echo "  checkpoints and logs: exp/quickstart_mpii, exp/quickstart_fusion_3d, exp/quickstart_fusion_3d_var"
echo "  H36M test:            exp/quickstart_test/results.json and preds.h5"
echo "  3DPW test:            exp/quickstart_test_3dpw/results.json and preds.h5"
echo "  MPI-INF-3DHP test:    exp/quickstart_test_3dhp/results.json and preds.h5"
if [ -d ../images ]; then
    echo "  demo:                 exp/quickstart_demo/ (open synthetic_1.html in a browser: the 3D viewer)"
fi
echo "  tensorboard:          .venv/bin/tensorboard --logdir exp   (if tensorboard is installed)"
