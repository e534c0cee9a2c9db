"""The dialogue: Rasa custom actions and form validation, one module per flow as in data/.

The action server serves this package alone (``python -m rasa_sdk --actions actions.dialogue``).
It decides from the register (actions.register), never from what the dialogue claims. What the
Rasa server's patches mean for action code is in conversation.py's docstring.
"""
