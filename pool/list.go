package pool

// link is what an element of an ilist embeds: its neighbours, and whether it
// is in a list at all.
type link[E any] struct {
	prev, next *E
	in         bool
}

// linked is a pointer to an element that embeds a link.
type linked[E any] interface {
	*E
	links() *link[E]
}

// ilist is a doubly linked list threaded through its elements, so that
// adding and removing allocate nothing and removal from the middle is O(1).
// An element is in at most one ilist at a time. The zero value is empty. It
// is not safe for concurrent use: the pool guards its lists with its mutex.
type ilist[E any, P linked[E]] struct {
	head, tail *E
	n          int
}

func (l *ilist[E, P]) len() int     { return l.n }
func (l *ilist[E, P]) front() *E    { return l.head }
func (l *ilist[E, P]) back() *E     { return l.tail }
func (l *ilist[E, P]) prev(e *E) *E { return P(e).links().prev }

// contains reports whether e is in a list (this one, as the pool uses them).
func (l *ilist[E, P]) contains(e *E) bool { return P(e).links().in }

func (l *ilist[E, P]) pushFront(e *E) {
	*P(e).links() = link[E]{next: l.head, in: true}
	if l.head != nil {
		P(l.head).links().prev = e
	} else {
		l.tail = e
	}
	l.head = e
	l.n++
}

func (l *ilist[E, P]) pushBack(e *E) {
	*P(e).links() = link[E]{prev: l.tail, in: true}
	if l.tail != nil {
		P(l.tail).links().next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *ilist[E, P]) remove(e *E) {
	lk := P(e).links()
	if lk.prev != nil {
		P(lk.prev).links().next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next != nil {
		P(lk.next).links().prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	*lk = link[E]{}
	l.n--
}

// popFront removes and returns the first element, or nil.
func (l *ilist[E, P]) popFront() *E {
	e := l.head
	if e != nil {
		l.remove(e)
	}
	return e
}
