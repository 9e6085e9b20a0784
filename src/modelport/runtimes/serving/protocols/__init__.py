"""One module per wire protocol: parse a request into a batch, render outputs back."""
