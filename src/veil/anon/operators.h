// Placeholder: replaced by the work on issue 5.
#ifndef VEIL_ANON_OPERATORS_H_
#define VEIL_ANON_OPERATORS_H_
#endif
