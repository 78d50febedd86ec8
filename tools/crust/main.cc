// Placeholder replaced by the real tool in this same change series.
int main() { return 1; }
