// Placeholder (issue 10, helper fl-lib is writing this file).
