#!/usr/bin/env bash
# Double the frame rate of IN with examples/interpolate.vpy and encode it to OUT, keeping audio and subtitles.
#
#   examples/encode.sh IN.mp4 OUT.mp4
#
# vspipe writes the filtered video as y4m to stdout; ffmpeg reads it from stdin ("-i -") and takes audio and
# subtitles from IN. Interpolation keeps the duration, so they stay in sync. The y4m header carries no sample
# aspect ratio, so IN's is set again (anamorphic video stays anamorphic). Environment overrides:
# SCRIPT (another .vpy taking `-a input=...`), VSPIPE, FFMPEG.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 IN OUT" >&2
    exit 2
fi
in=$1
out=$2
case "$in" in
    /*) ;;
    *) in=$PWD/$in ;;  # vspipe runs the script in the script's folder, where a relative IN would not be found
esac
# The y4m stream carries no sample aspect ratio: IN's is read from ffmpeg's report ("... 720x576 [SAR 16:15 DAR
# 4:3] ...", absent when unknown) and set exactly (setsar rounds it to terms of at most 100 unless given a max).
sar=$("${FFMPEG:-ffmpeg}" -hide_banner -i "$in" 2>&1 \
    | sed -n 's/.*Video:.*\[SAR \([0-9]*\):\([0-9]*\) DAR.*/\1\/\2/p' | head -n 1) || true
# IN's first frame may come after its start (a video track that starts after the audio, or a cut whose first
# frames a decoder drops); vspipe's video starts at 0. IN's other streams are moved back by that offset and the
# output forward by it, so the audio stays in sync (an offset on the y4m input would be rounded to whole frames).
offset=$("${FFMPEG:-ffmpeg}" -hide_banner -nostdin -copyts -i "$in" -map 0:v:0 -frames:v 1 -vf showinfo -f null - 2>&1 \
    | awk '/Duration:.*start:/ && start == "" { match($0, /start: -?[0-9.]+/); start = substr($0, RSTART + 7, RLENGTH - 7) }
           /pts_time:/ && first == "" { match($0, /pts_time:-?[0-9.]+/); first = substr($0, RSTART + 9, RLENGTH - 9) }
           END { d = (start == "" || first == "") ? 0 : first - start; printf "%.6f", (d > 0 ? d : 0) }') || true
offset=${offset:-0}
script=${SCRIPT:-$(dirname "$0")/interpolate.vpy}
case "$out" in
    *.mp4 | *.m4v | *.mov) subtitles=mov_text ;;  # the MP4 family holds text subtitles only as mov_text
    *) case "$in" in
           *.mp4 | *.m4v | *.mov) subtitles=srt ;;  # an MP4's mov_text goes into Matroska as SRT
           *) subtitles=copy ;;
       esac ;;
esac

"${VSPIPE:-vspipe}" -c y4m "$script" -a input="$in" - \
    | "${FFMPEG:-ffmpeg}" -hide_banner -loglevel error -y -f yuv4mpegpipe -i - -itsoffset "-$offset" -i "$in" \
        -map 0:v:0 -map '1:a?' -map '1:s?' ${sar:+-vf "setsar=$sar:max=65535"} -c:v libx264 -crf 18 -preset medium \
        -c:a copy -c:s "$subtitles" -output_ts_offset "$offset" "$out" \
    || { status=$?; rm -f "$out"; exit "$status"; }  # no half-written OUT
