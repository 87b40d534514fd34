"""The kinds of monitoring messages: the first element of every message tuple that the
hub puts for the database writer. Imports nothing, so the submitting process and
workers can name them without loading SQLAlchemy.
"""
from __future__ import annotations

#: Message kinds (first element of every message tuple).
# The DFK side's per-task messages, few and flat (tuples of scalars pickle fastest):
STATE = "state"        # (STATE, task_id, try_id, state_name, epoch, {column: value} or None)
#                        a status row; a dict is also merged into the task row (with the
#                        state as task_status_name); None: the task row stays as it is
TRY_LAUNCHED = "try_launched"  # (TRY_LAUNCHED, task_id, try_id, executor_label, epoch,
#                                executor_task_id or None)
TRY_FINISHED = "try_finished"  # (TRY_FINISHED, task_id, try_id, epoch, fail_history or None,
#                                executor_label, executor_task_id or None)
PENDING = "pending"    # (PENDING, task_id, try_id, epoch, *PENDING_COLUMNS values): a
#                        task's pending status row and the task row's first columns
FINAL = "final"        # (FINAL, task_id, try_id, state_name, epoch, *FINAL_COLUMNS values,
#                        task_fail_history or None): a final status row and the task
#                        row's outcome (None leaves task_fail_history as it is)
BATCH = "batch"        # (BATCH, [messages])                        each merged in order
TASK = "task"          # (TASK, task_id, {column: value})           merged into a task row
TRY = "try"            # (TRY, task_id, try_id, {column: value})    merged into a try row
STATUS = "status"      # (STATUS, task_id, try_id, state_name, epoch_seconds)
RESOURCE = "resource"  # (RESOURCE, {column: value})                appended
SAMPLE = "sample"      # (SAMPLE, task_id, try_id, [SAMPLE_FIELDS values]) a resource row
BLOCK = "block"        # (BLOCK, {column: value})                   appended
NODE = "node"          # (NODE, {column: value})                    appended
WORKFLOW = "workflow"  # (WORKFLOW, {column: value})                merged into the run's row
LOST = "lost"          # (LOST, count, reason)                      messages a radio lost
SYNC = "sync"          # (SYNC, threading.Event)                    set once all before it is in
PROBE = "probe"        # (PROBE, threading.Event)                   set once all before it is merged
NOTE = "note"          # (NOTE, threading.Event) like SYNC, but does not hurry the next write
# Workers' events, resolved to try rows here (see parsl_monitoring.worker_events):
EXEC_ID = "exec_id"    # (EXEC_ID, label, executor_task_id, task_id, try_id) a try was launched
TRY_DONE = "try_done"  # (TRY_DONE, label, executor_task_id)       the DFK saw the try finish
WORKER_EVENTS = "worker_events"    # (WORKER_EVENTS, label, [event lists])
#: Task-row columns of PENDING and FINAL messages, in message order: flat tuples pickle
#: in a third of the time of the same columns as a dict, in the submitting process.
PENDING_COLUMNS = ("task_func_name", "task_memoize", "task_time_invoked", "task_executor",
                   "task_stdout", "task_stderr", "task_stdin", "task_inputs", "task_outputs")
FINAL_COLUMNS = ("task_time_returned", "task_fail_count", "task_fail_cost", "task_hashsum")
WORKER_PAYLOAD = "worker_payload"  # (WORKER_PAYLOAD, label, bytes of parsl_monitoring.batches)
END_EVENTS = "end_events"  # (END_EVENTS,) no more worker events: count parked ones as lost
