"""The referral unit's live board (issue 14 item 5): one read-only page on Starlette, served by uvicorn."""
