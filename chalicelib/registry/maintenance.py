"""The scheduled clean-up of what abandoned uploads left (app.py's clean_up_uploads);
the code is chalicelib/storage/uploads_cleanup.py, which garbage collection runs too."""
from __future__ import annotations

from chalicelib.storage.uploads_cleanup import CLOCK_MARGIN_SECONDS, clean_up_uploads

__all__ = ["CLOCK_MARGIN_SECONDS", "clean_up_uploads"]
