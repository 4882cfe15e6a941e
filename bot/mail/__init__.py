"""Mail format apart from the rules: rendering, invitations, the minutes pack, size limits."""
