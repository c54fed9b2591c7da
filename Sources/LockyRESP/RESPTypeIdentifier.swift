// Placeholder: the RESP codec lands here.
