// Placeholder: being written (issue 7).
int main() { return 0; }
