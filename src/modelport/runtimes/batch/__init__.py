"""Batch prediction jobs: stream files through a registered model into part files,
published atomically, resumable after any crash, on local processes or Ray."""

from modelport.runtimes.batch.job import JobReport, predict_job
from modelport.runtimes.batch.jobs import Job, get_job, list_jobs

__all__ = ["Job", "JobReport", "get_job", "list_jobs", "predict_job"]
