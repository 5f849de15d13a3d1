#!/usr/bin/env bash
# One device call that makes stronger teachers where epochs are cheap and brings back what students
# need to learn from them on a CPU: ResNet-18 teachers (the recipe of docs/benchmarks.md, "ResNet-18
# teachers on a GPU"), then their ensemble's scores, with the shipped default's, on the views the
# student recipes see (`bfer soft-targets --views`; configs/fer2013_fast_live.yaml and
# configs/fer2013_default_student.yaml share augmentation and input, so one file serves both).
#
#   here:    python scripts/gpu_pack.py .gpu/fer2013.npz ../shared/datasets/fer2013 --skip fer2013_sample.csv
#   device:  run(command="bash scripts/gpu_teachers.sh", carry=[".gpu"], timeout_s=570)
#   then:    bfer train configs/fer2013_fast_live.yaml --set distill.live=false --set distill.teachers=[] \
#              --set distill.targets=<the views file> --out runs/...
#
# $OUT gets teachers.tar.gz (each teacher's recipe, curve, summary and log), the views file and run.log.
# Each phase has a time limit, so what finished comes back even if a later phase runs out of time.
# Settings (environment): TEACHERS (3), TEACHER_EPOCHS (60), TEACHER_SECONDS (330: per teacher, all at
# once), VIEW_EPOCHS (30), VIEW_SECONDS (200), PACK (.gpu/fer2013.npz), DEVICE (cuda), TEACHER_SET
# (more --set options for the teachers; the CPU smoke test shrinks them with it).
set -uo pipefail
OUT=${OUT:?the device machine names the folder that comes back in OUT}
TEACHERS=${TEACHERS:-3} TEACHER_EPOCHS=${TEACHER_EPOCHS:-60} TEACHER_SECONDS=${TEACHER_SECONDS:-330}
VIEW_EPOCHS=${VIEW_EPOCHS:-30} VIEW_SECONDS=${VIEW_SECONDS:-200}
PACK=${PACK:-.gpu/fer2013.npz} DEVICE=${DEVICE:-cuda} TEACHER_SET=${TEACHER_SET:-}
WORK=${WORK:-runs/gpu_teachers}
DATA=$WORK/datasets/fer2013
bfer() { PYTHONPATH=src python3 -m balanced_fer.cli "$@"; }
exec > >(tee -a "$OUT/run.log") 2>&1
echo "$(date -u +%T) start: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null || echo no GPU)"
python3 scripts/gpu_pack.py --unpack "$PACK" "$DATA" || exit 1

recipe=(configs/fer2013_compact_long.yaml --no-progress --set "data.train=$DATA" --set model.name=resnet18
  --set data.size=112 --set data.input_size=100 --set data.channels=3 --set optim.batch_size=256
  --set optim.lr=0.1 --set "schedule.epochs=$TEACHER_EPOCHS" --set schedule.warmup_epochs=2
  --set eval.select_metric=last --set "device=$DEVICE")
pids=()
for ((s = 0; s < TEACHERS; s++)); do
  # shellcheck disable=SC2086  # TEACHER_SET is a list of options
  timeout "$TEACHER_SECONDS" bfer train "${recipe[@]}" $TEACHER_SET --set "seed=$s" --set "name=r18_teacher_s$s" \
    --out "$WORK/r18_s$s" >"$WORK/r18_s$s.log" 2>&1 &
  pids+=($!)
done
wait "${pids[@]}"  # not a bare wait: it would wait for the tee of run.log too
teachers=(--teacher default)
for ((s = 0; s < TEACHERS; s++)); do
  tail -n 2 "$WORK/r18_s$s.log"
  [ -f "$WORK/r18_s$s/final.safetensors" ] && teachers+=(--teacher "$WORK/r18_s$s/final.safetensors")
done
(cd "$WORK" && tar czf "$OUT/teachers.tar.gz" r18_s*.log r18_s*/recipe.yaml r18_s*/metrics.jsonl r18_s*/summary.json 2>/dev/null)
echo "$(date -u +%T) teachers done: ${teachers[*]}"

views=$OUT/fer2013_r18x$((${#teachers[@]} / 2 - 1))_default_views.safetensors
timeout "$VIEW_SECONDS" bfer soft-targets "$DATA" "${teachers[@]}" --views configs/fer2013_fast_live.yaml \
  --epochs "$VIEW_EPOCHS" --tta none --device "$DEVICE" --no-progress --out "$views"
echo "$(date -u +%T) done (views: $([ -f "$views" ] && du -h "$views" | cut -f1 || echo none))"
