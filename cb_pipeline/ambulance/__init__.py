"""Ambulance service incidents (dispatch and patient record systems): the feed's contract."""
