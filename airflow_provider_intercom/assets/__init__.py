"""The ``intercom://`` Asset scheme (Datasets on Airflow 2.x); see :mod:`.intercom`."""
