touch /tmp/pytest-of-root/pytest-78/test_srun_launcher_starts_task0/copies/copy_$SLURM_PROCID
