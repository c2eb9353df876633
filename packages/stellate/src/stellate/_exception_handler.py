"""`stellate._exception_handler`: the exception-handling wrapper shared by routes and middleware."""

from stellate_http.concurrency import run_in_threadpool
from stellate_middleware.exceptions import wrap_app_handling_exceptions

__all__ = ["run_in_threadpool", "wrap_app_handling_exceptions"]
