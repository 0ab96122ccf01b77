# n2n_raw — the menu. Every target is one line of work; `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
N2N := $(BIN)/n2n-raw
# Set SIDD_ROOT=/path/to/SIDD_Medium_Raw (its parent holding the block files) to use the real data set.
SIDD_ROOT ?=
DATA ?= data
RUN ?= runs/sidd
NPROC ?= 1
# The run's latest checkpoint once there is one, else the model shipped with the package.
CKPT ?= $(if $(wildcard $(RUN)/checkpoints/latest.pt),$(RUN)/checkpoints/latest.pt,pretrained)
TRAIN_ARGS ?=
EVAL_ARGS ?=
DENOISE_ARGS ?=
# make submit averages the 8 Bayer-aware flips/transposes (--ensemble, 8× the time: about 3 min for the 160 demo
# blocks on one CPU core): +0.74 dB on the demo benchmark with the shipped model. SUBMIT_ARGS= turns it off.
SUBMIT_ARGS ?= --ensemble
# Folder of the validation/benchmark block files: SIDD's (beside SIDD_ROOT) or the demo set's.
BLOCKS_DIR ?= $(if $(SIDD_ROOT),$(SIDD_ROOT)/..,$(DATA)/sidd-mini)
# Training crops, kept apart per source so that switching between SIDD and the demo set never re-cuts them.
PREPARED ?= $(DATA)/prepared/$(if $(SIDD_ROOT),sidd,sidd-mini)
# train-sidd's length. Default: a short CPU run (the paper's 256² crops, 2,000 steps of batch 4, validation on 64 blocks
# every 250 steps) of the U-Net with an identity path that starts as the exact identity (--residual --init-scale 1
# --zero-output-init: full-scale Kaiming weights, a zero output layer), lr 3e-4 after a 250-step linear warm-up with
# cosine decay, the global gradient norm clipped at 0.5, the weight average validated, each crop's loss weighted by
# 1 / its own loss (--balance-crops: the gradient of the mean log-loss, as the per-block mean PSNR scores; +0.09 dB
# over six seed × precision runs, benchmarks/STABILITY.md; the official code trains plain MSE), the U-Net's correction
# kept free of its own 32 × 32 block means (--keep-local-means 32: the output keeps the input's local level and colour;
# +0.1 to +0.3 dB; every seed × precision run on an AMX Xeon and an AMD EPYC above +5 dB, benchmarks/STABILITY.md). With the official ×0.1
# initialisation the deep path of the U-Net barely trained in a short run (+2 dB; with the identity path a plateau
# near 37 dB): benchmarks/STABILITY.md. FULL=1: the paper's raw recipe (the official network, 256² crops, lr 1e-4,
# γ = 1, 100 epochs, fp32) for a GPU.
SIDD_QUICK := --epochs 8 --steps-per-epoch 250 --crop 256 --residual --init-scale 1 --zero-output-init --lr 3e-4 \
  --lr-schedule cosine --warmup-steps 250 --clip-grad-norm 0.5 --ema-decay 0.999 --balance-crops --keep-local-means 32 \
  --validation-limit 64
SIDD_FULL := --epochs 100 --amp off
SIDD_PRESET ?= $(if $(FULL),$(SIDD_FULL),$(SIDD_QUICK))

.PHONY: help install lint format test test-gpu gpu-check test-slow data-demo data-sidd train-sidd train-srgb train-own denoise-own pretrained eval submit bench quality clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## fresh virtual environment in .venv with the package and its test tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'

lint:  ## ruff: lint rules and the formatter's check (configured in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:  ## apply ruff's fixes and formatter
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test:  ## the default test suite with the docstring examples (CPU, a few minutes)
	$(BIN)/python -m pytest -q

test-gpu:  ## the CUDA tests (skipped without a GPU)
	$(BIN)/python -m pytest -q -m gpu

gpu-check:  ## on a CUDA machine: CUDA tests, a 200-step training run, the benchmarks, one summary (~5-8 min)
	bash benchmarks/gpu_check.sh

test-slow:  ## the long checks
	$(BIN)/python -m pytest -q -m slow

data-demo:  ## write the embedded SIDD-mini demo set under data/sidd-mini
	$(N2N) make-demo-data --out $(DATA)/sidd-mini

data-sidd: $(if $(SIDD_ROOT),,data-demo)  ## cut training crops from SIDD (SIDD_ROOT) or from the demo set
	$(N2N) prepare-sidd --sidd-root $(or $(SIDD_ROOT),$(DATA)/sidd-mini/SIDD_Medium_Raw) --out $(PREPARED)

train-sidd: data-sidd  ## train on SIDD raw (demo set unless SIDD_ROOT; 4–9 min on a bf16 CPU, FULL=1 paper length; NPROC=N)
	$(if $(filter-out 1,$(NPROC)),$(BIN)/torchrun --standalone --nproc_per_node $(NPROC) -m n2n_raw,$(N2N)) train --track raw --data $(PREPARED) --validation-dir $(BLOCKS_DIR) --out $(RUN) $(SIDD_PRESET) $(TRAIN_ARGS)

# A short CPU demo of the sRGB track: 1,200 steps on 128² crops (64² sub-images; smaller crops collapse the U-Net's
# bottleneck) of the embedded photos, the official γ ramp, the U-Net with an identity path (without it the colours
# were lost on some seeds and CPUs: benchmarks/STABILITY.md), lr 3e-4 after a 100-step warm-up, halved at 50%/75%,
# the gradient norm clipped at 0.5, one validation at the end (6–9 min on one bf16 core, 14–18 in fp32). The paper's recipe:
# `make train-srgb SRGB_ARGS= TRAIN_ARGS="--data data/imagenet-val --validation-dir data/validation"`.
SRGB_ARGS ?= --crop 128 --batch-size 4 --epochs 12 --steps-per-epoch 100 --residual --lr 3e-4 --lr-milestones 50 75 \
  --warmup-steps 100 --clip-grad-norm 0.5 --num-workers 0 --validate-every 12 --log-every 100
print-srgb-args:  ## the sRGB preset's flags (benchmarks/srgb_seeds.sh runs them over seeds)
	@echo $(SRGB_ARGS)

train-srgb:  ## train on the synthetic sRGB track (embedded photos; a ~10-minute CPU demo by default)
	$(N2N) train --track srgb --out runs/srgb $(SRGB_ARGS) $(TRAIN_ARGS)

# Your own camera: PHOTOS=folder of noisy raw photos (DNG, ARW, NEF, CR2, RW2, ORF, PEF, …). train-own cuts them
# into crops (levels kept below black) and fine-tunes the shipped model on them, holding out crops for a
# score that needs no clean image; denoise-own writes <photo>_denoised.dng (+ preview, crops, report) beside each.
PHOTOS ?=
OWN ?= runs/own
OWN_ARGS ?= --epochs 4 --steps-per-epoch 250 --crop 256 --lr 1e-4 --warmup-steps 100 --clip-grad-norm 0.5 --holdout 8 --log-every 50
train-own:  ## fine-tune the shipped model on your own noisy raw photos (PHOTOS=folder; ~10 min on 2 cores)
	@test -n "$(PHOTOS)" || { echo "make train-own PHOTOS=/path/to/raw/photos"; exit 2; }
	$(N2N) prepare-raw $(PHOTOS) --out $(DATA)/prepared/own --crop-size 512 --stride 512
	$(N2N) train --data $(DATA)/prepared/own --out $(OWN) --init pretrained $(OWN_ARGS) $(TRAIN_ARGS)

denoise-own:  ## denoise every raw photo in PHOTOS with the train-own model (or the shipped one: OWN_CKPT=pretrained)
	@test -n "$(PHOTOS)" || { echo "make denoise-own PHOTOS=/path/to/raw/photos"; exit 2; }
	$(N2N) denoise $(PHOTOS) --checkpoint $(or $(OWN_CKPT),$(OWN)/checkpoints/latest.pt) $(DENOISE_ARGS)

# The shipped model (n2n_raw/resources/pretrained_raw.pt, model card beside it), in two stages, both resumable (run
# `make pretrained` again after an interruption), the U-Net with an identity path that starts as the exact identity:
# 1. 4,000 steps from scratch: clean demo crops with SIDD-calibrated noise drawn afresh every step, narrow
#    colour/exposure augmentation, lr 3e-4 with a 250-step warm-up and cosine decay, gradient clipping, a weight average;
# 2. 4,000 steps fine-tuning stage 1 on harder data: wide colour/exposure augmentation (strong illuminants, very
#    dark crops) and noise kept below black for half the crops (as a camera raw has it), lr 1e-4; half the crops'
#    noise scaled down to a base-ISO camera's, each crop's loss weighted alike, and the U-Net's correction
#    kept free of its 32 × 32 local means (the output keeps the input's local level and colour);
# then written into the package run free of its 16 × 16 local means (an option without weights; measured no worse
# on any row and better on the stress photos' colour: benchmarks/FIDELITY.md, last section).
PRETRAINED_ARGS ?= --synthetic-noise sidd --colour-augment --epochs 8 --steps-per-epoch 500 --crop 256 --batch-size 4 \
  --residual --init-scale 1 --zero-output-init --lr 3e-4 --lr-schedule cosine --warmup-steps 250 --clip-grad-norm 0.5 \
  --ema-decay 0.999 --validation-limit 64 --num-workers 1 --log-every 100 --seed 0
PRETRAINED_FT_ARGS ?= --synthetic-noise sidd --colour-augment --colour-range wide --noise-below-black mix --epochs 8 \
  --steps-per-epoch 500 --crop 256 --batch-size 4 --lr 1e-4 --lr-schedule cosine --warmup-steps 200 --clip-grad-norm 0.5 \
  --ema-decay 0.999 --validation-limit 64 --num-workers 1 --log-every 100 --seed 1 \
  --noise-range wide --balance-crops --keep-local-means 32
pretrained: data-demo  ## train the shipped model from scratch and write it into the package (hours on 2 CPU cores)
	$(N2N) prepare-sidd --sidd-root $(DATA)/sidd-mini/SIDD_Medium_Raw --out $(DATA)/prepared/sidd-mini-gt --kind GT --frames 010
	$(N2N) train --track raw --data $(DATA)/prepared/sidd-mini-gt --validation-dir $(DATA)/sidd-mini --out runs/pretrained \
	  $(PRETRAINED_ARGS) --resume auto
	$(N2N) train --track raw --data $(DATA)/prepared/sidd-mini-gt --validation-dir $(DATA)/sidd-mini --out runs/pretrained-ft \
	  --init runs/pretrained/checkpoints/latest.pt $(PRETRAINED_FT_ARGS) --resume auto
	$(BIN)/python -m n2n_raw.pretrained runs/pretrained-ft/checkpoints/latest.pt --keep-local-means 16

eval:  ## raw validation PSNR/SSIM of CKPT on the validation blocks (EVAL_ARGS=--ensemble, --limit N, ...)
	$(N2N) evaluate --checkpoint $(CKPT) --blocks-dir $(BLOCKS_DIR) --out $(RUN)/eval $(EVAL_ARGS)

submit:  ## SIDD benchmark submission files under submit/, checked again (self-ensemble; SUBMIT_ARGS='--ensemble --force' replaces them)
	$(N2N) submit --checkpoint $(CKPT) --blocks-dir $(BLOCKS_DIR) --out submit $(SUBMIT_ARGS)
	$(N2N) check-submission submit/SubmitRaw.csv --blocks $(BLOCKS_DIR)/BenchmarkNoisyBlocksRaw.mat

bench:  ## speed and memory, side by side with reference implementations
	$(BIN)/python -m benchmarks.run_all

# The study as two single-thread processes sharing one run cache (the split balances their time), then the
# report: about 65 minutes on 2 cores with native bf16. QUALITY_ARGS="--repeat-seeds 1 2" adds a third seed.
QUALITY_ARGS ?=
quality:  ## the quality study on the demo benchmark (about an hour on 2 bf16-capable CPU cores)
	$(BIN)/python -m benchmarks.quality --methods identity n2c n2n nb2nb_g0 nb2nb_g1 nb2nb_fixed $(QUALITY_ARGS) & a=$$!; \
	$(BIN)/python -m benchmarks.quality --methods bm3d nb2nb_g2 nb2nb_ramp nb2nb_fp32 nb2nb_bf16 $(QUALITY_ARGS) & b=$$!; \
	wait $$a && wait $$b
	$(BIN)/python -m benchmarks.quality --report-only $(QUALITY_ARGS)

clean:  ## remove runs, generated data, submissions and caches (keeps .venv)
	rm -rf runs $(DATA)/sidd-mini $(DATA)/prepared submit/*.csv submit/*.mat .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
