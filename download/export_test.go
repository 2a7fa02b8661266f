package download

// Extract is the text extractor without the recover of the validators: a
// bug panics, for the fuzz test to see.
var Extract = extract
