// Placeholder: replaced by the work on issue 5.
