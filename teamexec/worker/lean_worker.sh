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
id="$TEAMEXEC_WORKER_ID.$type"
tmp="$TEAMEXEC_INBOX/../tmp/$id.json"
# every interpolated value is a validated name or a number: no JSON escaping needed
printf '{"id":"%s","ts":"%s","from":"%s","to":"executor","type":"%s","summary":"%s","data":{"task_id":"%s","attempt":%s,"worker_id":"%s","exit_code":%s}}\n' \
    "$id" "$TEAMEXEC_STARTED_TS" "$TEAMEXEC_ROLE" "$type" "$summary" \
    "$TEAMEXEC_TASK_ID" "$TEAMEXEC_ATTEMPT" "$TEAMEXEC_WORKER_ID" "$code" >"$tmp" &&
    mv "$tmp" "$TEAMEXEC_INBOX/$id.json"
exit "$code"
