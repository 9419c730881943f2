#!/bin/sh
# teamexec's lean built-in worker (executor.worker: "sh").
#
# Does the job of `python -m teamexec.worker` for one task at about a
# thirtieth of its start-up cost: the executor has already written the prompt
# to $TEAMEXEC_PROMPT_FILE and opened the task's log as our stdout; we run the
# agent (its argv is "$@", never re-parsed by a shell) with the prompt on
# stdin and report through the inbox, so a SIGKILLed executor loses nothing.
# The executor adds the log tail to an error report and times the attempt.
# A SIGTERM to the process group ends us and the agent without a report.
cd "$TEAMEXEC_CWD" || exit 126
"$@" <"$TEAMEXEC_PROMPT_FILE" 2>&1
code=$?
if [ "$code" -eq 0 ]; then
    type=task_complete
    summary="$TEAMEXEC_TASK_ID done"
else
    type=error
    summary="agent exited $code"
fi
# The report's ts is now, as PROTOCOL §6 orders messages by ts (an agent's own
# progress message must sort before this report): the clock without a process,
# /proc/uptime plus the boot instant the executor passed, in centiseconds, made
# into the executor's ISO form by integer arithmetic (days-from-civil inverted).
# Elsewhere (no /proc) the attempt's start time stands in.
ts="$TEAMEXEC_STARTED_TS"
if [ -n "$TEAMEXEC_BOOT_EPOCH_CS" ] && read -r up _ </proc/uptime 2>/dev/null; then
    cs=${up#*.}
    cs=${cs#0}
    now=$((TEAMEXEC_BOOT_EPOCH_CS + ${up%.*} * 100 + cs))
    s=$((now / 100)) z=$((now / 8640000 + 719468))
    era=$((z / 146097)) doe=$((z % 146097))
    yoe=$(((doe - doe / 1460 + doe / 36524 - doe / 146096) / 365))
    doy=$((doe - (365 * yoe + yoe / 4 - yoe / 100)))
    mp=$(((5 * doy + 2) / 153))
    d=$((doy - (153 * mp + 2) / 5 + 1)) m=$((mp < 10 ? mp + 3 : mp - 9))
    y=$((yoe + era * 400 + (m <= 2)))
    H=$((s % 86400 / 3600)) M=$((s % 3600 / 60)) S=$((s % 60)) c=$((now % 100))
    # zero-padded by hand: a $(printf ...) would fork a subshell
    [ "$m" -lt 10 ] && m=0$m
    [ "$d" -lt 10 ] && d=0$d
    [ "$H" -lt 10 ] && H=0$H
    [ "$M" -lt 10 ] && M=0$M
    [ "$S" -lt 10 ] && S=0$S
    [ "$c" -lt 10 ] && c=0$c
    ts="$y-$m-${d}T$H:$M:$S.${c}0Z"
fi
id="$TEAMEXEC_WORKER_ID.$type"
tmp="$TEAMEXEC_INBOX/../tmp/$id.json"
# every interpolated value is a validated name or a number: no JSON escaping needed
printf '{"id":"%s","ts":"%s","from":"%s","to":"executor","type":"%s","summary":"%s","data":{"task_id":"%s","attempt":%s,"worker_id":"%s","exit_code":%s}}\n' \
    "$id" "$ts" "$TEAMEXEC_ROLE" "$type" "$summary" \
    "$TEAMEXEC_TASK_ID" "$TEAMEXEC_ATTEMPT" "$TEAMEXEC_WORKER_ID" "$code" >"$tmp" &&
    mv "$tmp" "$TEAMEXEC_INBOX/$id.json"
exit "$code"
