// Placeholder: being written (issue 9).
int main() { return 0; }
