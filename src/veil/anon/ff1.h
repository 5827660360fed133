// Placeholder: replaced by the work on issue 5.
#ifndef VEIL_ANON_FF1_H_
#define VEIL_ANON_FF1_H_
#endif
