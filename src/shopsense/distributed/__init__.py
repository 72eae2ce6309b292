"""Training on Apache Spark: the same stack as ``shopsense train``, for logs that outgrow
one Python process (``shopsense train --engine spark [--spark-master URL]``).

The event log and catalog are exported as Parquet (:mod:`shopsense.store.export`,
incremental), Spark SQL and MLlib compute what grows with the log (per-item counts,
repeat shares, "bought together" co-occurrence, ALS factors, the validation split), and
the driver assembles the models from those arrays into the bundle format the server
already loads (:mod:`shopsense.distributed.train`). See ``docs/scaling.md``.
"""
