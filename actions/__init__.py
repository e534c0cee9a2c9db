"""The action server and the register behind it: validation, authorization and storage."""
