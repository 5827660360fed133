// Placeholder: being written (issue 10).
