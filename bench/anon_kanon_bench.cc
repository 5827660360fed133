// Placeholder: being written (issue 6).
int main() { return 0; }
