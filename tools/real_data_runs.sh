#!/usr/bin/env bash
# Every training and export run behind docs/evaluation/{aisegcell,isl-condB}, in order.
# Resumable: a finished run is skipped, an interrupted one resumes from its checkpoint.
# About 5 h on the 2-core development CPU. Usage: tools/real_data_runs.sh [phase...]
#   sweep     U-Net MSE seed 0 and the AGLU W sweep (W = 1, 3, 10; seed 0)
#   seeds     the chosen W (best mean validation Pearson r over both datasets) at seeds
#             1 and 2, U-Net MSE seeds 1-2, U-Net recall (same loss as AGLU) seeds 0-2
#   export    ONNX fp32 + int8 of every trained AGLU seed at the chosen W
#   noskip    the pure-latent AGLU (no skips), seed 0
#   ablate    the in-focus plane alone (ISL), half the steps
#   finetune  aiSEGcell: fine-tuning from a model of other experiments vs from scratch
#   fnet      issue 16: the fnet/CARE U-Net (SEEDS, default 0) and its compare
#             (docs/evaluation/fnet-peer{,-isl}/compare.toml); about 1 h per seed on the CPU
#   simpretrain  aiSEGcell from the simulator's bright-field pre-training vs from scratch
#             (1000 steps, seeds 0-1; report: aglu-train compare docs/evaluation/simulator/compare.toml)
#   crossval  issue 23: AGLU, U-Net MSE, U-Net recall and fnet through `aglu-train crossval`:
#             aiSEGcell 4 folds by experiment (SEEDS, default 0), ISL condB the fixed split
#             (seeds 0-2); reports in docs/evaluation/crossval-{aisegcell,isl-condB}/. Resumable;
#             LANE=train trains only (run two with OMP_NUM_THREADS=1 and THREADS=1 side by side)
#   report    docs/evaluation/<dataset>/compare.toml (and aisegcell-finetune/) from its compare.toml.in (W = the
#             chosen W; a model file that does not exist is left out and named), then
#             aglu-train compare on it
# SEEDS="0 1" limits the seeds phase to those seeds; DATASETS="aisegcell" limits every
# phase to that dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
BIN=.venv/bin
DATASETS=${DATASETS:-aisegcell isl-condB}
mkdir -p runs exported

run() {  # NAME RECIPE [SECTION.FIELD=VALUE ...]
  local name=$1 recipe=$2 s; shift 2
  [ -f "runs/$name/$name.pt" ] && return 0
  local sets=(); for s in "$@"; do sets+=(--set "$s"); done
  echo "$(date +%T) fit $name"
  $BIN/aglu-train fit "$recipe" --out runs --name "$name" "${sets[@]}" > "runs/$name.log" 2>&1 ||
    echo "fit of $name failed: see runs/$name.log"
}

chosen_w() {  # the W with the best mean validation Pearson r over both datasets
  $BIN/python - <<'PY'
import torch
best = {}
for w in (1, 3, 10):
    rs = [torch.load(f"runs/{ds}-aglu-w{w}-s0/{ds}-aglu-w{w}-s0.pt", weights_only=True)["stages"][-1]["val_pearson_r"]
          for ds in ("aisegcell", "isl-condB")]
    best[w] = sum(rs) / len(rs)
print(max(best, key=best.get))
PY
}

sweep() {
  for ds in $DATASETS; do run "$ds-unet-mse-s0" "training/recipes/$ds/unet-mse.toml"; done
  for ds in $DATASETS; do
    for w in 3 1 10; do run "$ds-aglu-w$w-s0" "training/recipes/$ds/aglu.toml" "loss.nucleus_weight=$w"; done
  done
}

seeds() {  # seed by seed, so that an interrupted study still has whole rounds
  local w; w=$(chosen_w); echo "chosen W = $w"
  for s in ${SEEDS:-0 1 2}; do
    if [ "$s" != 0 ]; then
      for ds in $DATASETS; do
        run "$ds-aglu-w$w-s$s" "training/recipes/$ds/aglu.toml" "loss.nucleus_weight=$w" "optim.seed=$s"
      done
      for ds in $DATASETS; do
        run "$ds-unet-mse-s$s" "training/recipes/$ds/unet-mse.toml" "optim.seed=$s"
      done
    fi
    for ds in $DATASETS; do
      run "$ds-unet-recall-s$s" "training/recipes/$ds/unet-recall.toml" "loss.nucleus_weight=$w" "optim.seed=$s"
    done
  done
}

export_all() {
  local w; w=$(chosen_w)
  for ds in $DATASETS; do
    for s in 0 1 2; do
      local name="$ds-aglu-w$w-s$s"
      [ -f "exported/$name.int8.onnx" ] && continue
      [ -f "runs/$name/$name.pt" ] || continue  # not trained yet
      echo "$(date +%T) export $name"
      # int8 gate at r >= 0.99 vs fp32 (default 0.995): aiSEGcell's sparse nuclei give
      # 0.992 (docs/evaluation/README.md); the reports score int8 on the test split anyway.
      $BIN/aglu-export "runs/$name/$name.pt" --out exported --calibration-frames 16 --side-px 512 \
        --max-pearson-loss 0.01 \
        > "exported/$name.log" 2>&1 || echo "export of $name failed: see exported/$name.log"
    done
  done
}

noskip() {
  local w; w=$(chosen_w)
  for ds in $DATASETS; do
    run "$ds-aglu-noskip-w$w-s0" "training/recipes/$ds/aglu.toml" "loss.nucleus_weight=$w" "model.skips=false"
  done
}

ablate() {
  local w; w=$(chosen_w)
  for ds in $DATASETS; do
    run "$ds-aglu-half-w$w-s0" "training/recipes/$ds/aglu.toml" "loss.nucleus_weight=$w" \
      "stages.end_to_end_steps=1250"
  done
  case " $DATASETS " in *" isl-condB "*)
    run "isl-condB-aglu-plane6-w$w-s0" training/recipes/isl-condB/aglu-plane6.toml "loss.nucleus_weight=$w"
    run "isl-condB-unet-mse-plane6-s0" training/recipes/isl-condB/unet-mse-plane6.toml ;;
  esac
}

finetune() {  # recipe: training/recipes/aisegcell/finetune.toml (its header says how)
  local w; w=$(chosen_w)
  local r=training/recipes/aisegcell/finetune.toml
  run "ft-base-w$w" "$r" "loss.nucleus_weight=$w"
  local fields=(p0004 p0011 p0019 p0021 p0028 p0029 p0031)
  for s in ${SEEDS:-0 1 2}; do  # one base model; the fine-tuning runs at each seed
    local sfx=""; [ "$s" != 0 ] && sfx="-s$s"
    for k in 1 2 4 7; do
      local sel; sel=$(printf '"220524DS30_%s",' "${fields[@]:0:$k}")
      for init in scratch base; do
        local name="ft-$init-k$k-w$w$sfx"
        [ -f "runs/$name/$name.pt" ] && continue
        local extra=(); [ "$init" = base ] && extra=(--init "runs/ft-base-w$w/ft-base-w$w.pt")
        echo "$(date +%T) fit $name"
        # few fields, no validation: the last weights are kept (optim.val_every = 0)
        $BIN/aglu-train fit "$r" --out runs --name "$name" "${extra[@]}" \
          --set "loss.nucleus_weight=$w" --set "data.train_groups=[${sel%,}]" \
          --set "stages.end_to_end_steps=600" --set "loss.warmup_steps=100" \
          --set "optim.val_every=0" --set "optim.seed=$s" > "runs/$name.log" 2>&1
      done
    done
  done
}

simpretrain() {  # issue 15: does pre-training on the simulator's bright-field help aiSEGcell?
  run aisegcell-sim-pretrain training/recipes/aisegcell/sim-pretrain.toml
  local r=training/recipes/aisegcell/aglu.toml
  for s in ${SEEDS:-0 1}; do
    for init in scratch sim; do  # one thread each, side by side on the 2 cores
      local name="aisegcell-$init-1k-s$s"
      [ -f "runs/$name/$name.pt" ] && continue
      local extra=(); [ "$init" = sim ] && extra=(--init runs/aisegcell-sim-pretrain/aisegcell-sim-pretrain.pt)
      echo "$(date +%T) fit $name"
      OMP_NUM_THREADS=1 $BIN/aglu-train fit "$r" --out runs --name "$name" "${extra[@]}" \
        --set "stages.end_to_end_steps=1000" --set "optim.seed=$s" > "runs/$name.log" 2>&1 &
    done
    wait
  done
}

crossval() {  # issue 23: cross-validation by experiment, floors, per-experiment report
  local ds seeds extra=()
  [ "${LANE:-}" = train ] && extra+=(--train-only)
  [ -n "${THREADS:-}" ] && extra+=(--set "optim.threads=$THREADS")
  for ds in $DATASETS; do
    local r=training/recipes/$ds
    if [ "$ds" = aisegcell ]; then seeds=${SEEDS:-0}; else seeds=${SEEDS:-0,1,2}; fi
    seeds=${seeds// /,}
    echo "$(date +%T) crossval $ds (seeds $seeds)"
    $BIN/aglu-train crossval "$r/aglu.toml" "$r/unet-mse.toml" "$r/unet-recall.toml" "$r/fnet-mse.toml" \
      --out "runs/cv/$ds" --folds 4 --seeds "$seeds" --report-dir "docs/evaluation/crossval-$ds" \
      "${extra[@]}"
  done
}

fnet() {  # issue 16: the full-resolution fnet/CARE U-Net, AGLU's speed peer, for accuracy
  local ds report
  for ds in $DATASETS; do
    for s in ${SEEDS:-0}; do run "$ds-fnet-mse-s$s" "training/recipes/$ds/fnet-mse.toml" "optim.seed=$s"; done
    report=fnet-peer; [ "$ds" = isl-condB ] && report=fnet-peer-isl
    $BIN/aglu-train compare "docs/evaluation/$report/compare.toml" > "runs/compare-$report.log" 2>&1 ||
      echo "compare of $report failed: see runs/compare-$report.log"
  done
}

report() {
  local w; w=$(chosen_w) folders=$DATASETS
  case " $DATASETS " in *" aisegcell "*) folders="$folders aisegcell-finetune" ;; esac
  for ds in $folders; do
    $BIN/python - "docs/evaluation/$ds" "$w" <<'PY'
import re, sys
from pathlib import Path
folder, w = Path(sys.argv[1]), sys.argv[2]
text = (folder / "compare.toml.in").read_text().replace("WSTAR", w)
missing = []
def keep(match):
    found = []
    for m in re.findall(r'"([^"]+)"', match.group(1)):
        (found if (folder / m).is_file() else missing).append(m)
    return "models = [" + ", ".join(f'"{m}"' for m in found) + "]"
text = re.sub(r"models = \[([^\]]*)\]", keep, text)
body, tail = text.split("\n[compare]", 1)
rows = body.split("[[rows]]")  # a row with no model left is dropped
text = "[[rows]]".join([rows[0], *(r for r in rows[1:] if "models = []" not in r)])
text += "\n[compare]" + tail
if missing:
    note = "No file when this report was made (not trained yet, or its int8 refused by the export parity gate: exported/NAME.log says which), left out: " + ", ".join(Path(m).stem for m in missing) + "."
    text = text.replace('"""\n\n[[rows]]', note + '\n"""\n\n[[rows]]', 1)
    print(f"{folder}: left out {len(missing)} model file(s) that do not exist", file=sys.stderr)
(folder / "compare.toml").write_text(text)
PY
    echo "$(date +%T) compare $ds"
    $BIN/aglu-train compare "docs/evaluation/$ds/compare.toml" > "runs/compare-$ds.log" 2>&1 ||
      echo "compare of $ds failed: see runs/compare-$ds.log"
  done
}

phases=("$@"); [ ${#phases[@]} -eq 0 ] && phases=(sweep export seeds export noskip ablate finetune simpretrain report)
for p in "${phases[@]}"; do
  case $p in
    sweep) sweep ;; seeds) seeds ;; export) export_all ;; noskip) noskip ;; ablate) ablate ;; finetune) finetune ;; simpretrain) simpretrain ;; fnet) fnet ;; crossval) crossval ;; report) report ;;
    *) echo "unknown phase $p" >&2; exit 2 ;;
  esac
done
