"""The Spark session the training jobs run in.

``master`` is any Spark master URL: ``local[*]`` (every core of this machine, the
default), ``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://https://...``; the jobs
run unchanged. PySpark needs Java 17 or newer on the machine that starts the driver
(Debian: ``apt-get install openjdk-17-jre-headless``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from shopsense.errors import ConfigError

DEFAULT_MASTER = "local[*]"


def spark_session(master: str = DEFAULT_MASTER, app_name: str = "shopsense-train") -> Any:
    """A Spark session on ``master`` with settings for these jobs: UTC times, no web UI,
    shuffle partitions sized for a local run (a cluster's defaults otherwise)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ConfigError(
            "training on Spark needs PySpark: pip install 'shopsense[spark]'"
        ) from exc
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ConfigError(
            "training on Spark needs Java 17 or newer (Debian: apt-get install "
            "openjdk-17-jre-headless), or JAVA_HOME set"
        )
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
    )
    local = re.fullmatch(r"local\[(\d+|\*)\]|local", master)
    if local:
        # Errors only from the JVM this process starts (Spark's INFO and WARN lines
        # otherwise fill stderr); a cluster's driver options are the user's
        logging = Path(__file__).with_name("log4j2.properties")
        if logging.is_file():
            builder = builder.config(
                "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={logging}"
            )
        # Python workers run this interpreter (PySpark's default is whatever `python3` is
        # on the PATH, without ShopSense); on a cluster PYSPARK_PYTHON is the user's to set
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        cores = os.cpu_count() or 1
        wanted = local.group(1)
        threads = cores if wanted in (None, "*") else int(wanted)
        builder = builder.config("spark.sql.shuffle.partitions", str(max(2, 2 * threads)))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
