"""moto's update-expression validation, at the cost of the tree's size.

Before it applies an UpdateExpression, moto 5.2 validates it: it deep-copies the parsed
tree, then walks it ten times, once per check (action counts, overlapping paths, key
attributes, values, paths, functions, ...). Each walk asks, at every node, for the
check's map of node classes to handlers (building a new dict of bound methods each
time) and whether the node is an instance of those classes (an ABC instance check);
two of the checks collect the tree's clauses again at every node below the root.
About 4 ms an update, twice for an item the update creates, and most of
TransactWriteItems' time on moto.

`install()` keeps every check, in the same order, with moto's own handlers (so the same
values, the same errors, raised by the same node first), and changes only how the tree
is copied and walked:

- copy: a tree that holds only nodes and plain values (names, indexes, flags: what
  the parser produces) is copied by pickling it and unpickling the pickle (each node
  rebuilt with the same attributes, parent links to the copies, as the deep copy does,
  in C); anything else goes to `copy.deepcopy`, as before.
- walk: the same depth-first, children-first order, the same pre-child hook, the same
  replacement of a node by what its handler returns; the handler map is read once per
  walk, not once per node, and "is this node of a class the map names, and which handler
  is first" is answered once per node class. Every moto check's map is a fixed dict of
  its own methods, and no class is registered with these ABCs, so the answers are
  the ones moto would compute each time. A check that overrides how it walks keeps
  its own.
- clauses: `find_clauses` gathers the same nodes in the same order, with the class
  tests answered once per class.
- structural checks: three checks read only the tree's shape (its node classes and
  their names, indexes and operators), the expression's attribute names and the table's
  key attributes, and change nothing: the action counts, overlapping paths, and key
  attributes updated. A pass of one of them is remembered for those inputs (the shape is
  the tree's pickle, taken for the copy) and not walked again; a failure is never remembered, so the
  error is always moto's, raised afresh. They run first, before any check that rewrites
  the tree; a check that comes after one that may have rewritten it is always walked.

Installed by the local stack's moto server (devstack/motoserver.py) and by the test
suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import copy
import pickle
from typing import Any

from moto.dynamodb.parsing import ast_nodes
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Expression, Node, UpdateExpressionFunction
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateHashRangeKeyValidator,
    Validator,
)

# kept for the tests that compare the two
MOTOS_VALIDATOR_INIT = Validator.__dict__["__init__"]
MOTOS_VALIDATE = Validator.__dict__["validate"]
MOTOS_TRAVERSE = DepthFirstTraverser.__dict__["traverse"]
MOTOS_FIND_CLAUSES = Node.__dict__["find_clauses"]

_PLAIN = (str, int, float, bool, type(None))  # compared by type(): bool is listed apart from int
_NODE_ATTRIBUTES = frozenset({"type", "children", "parent"})
# moto's methods a check may override; one that does is walked by moto's own traverse
_WALK_METHODS = ("traverse_node_recursively", "nodes_to_be_processed", "process")

# more distinct (shape, inputs) passes than this means they are not a fixed set: stop remembering
MAX_REMEMBERED = 4096
_passed: set[tuple[Any, ...]] = set()
_plain_pickles: dict[bytes, bool] = {}  # a tree's pickle: is the tree plain
_is_node: dict[type, bool] = {}
_descended: dict[type, bool] = {}  # find_clauses looks into the node's children
# per handler map's classes: for each node class, the map's class that handles it, if any
_handled_as: dict[tuple[type, ...], dict[type, type | None]] = {}


def copy_tree(root: Any) -> tuple[Any, Any]:
    """`copy.deepcopy(root)` and the tree's shape, for a tree that holds only nodes and plain
    values, each node once, linked to the node that holds it; else the deep copy and None.

    The shape is the tree pickled: its nodes' classes and values, all the structural checks
    read; the copy is that unpickled, which rebuilds each node from its class and
    attributes as the deep copy does (neither calls `__init__`; a node has no copy or
    pickle hooks of its own). Trees with the same pickle are the same tree, so whether a
    pickle is of a plain tree is worked out once per pickle."""
    try:
        pickled = pickle.dumps(root, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return copy.deepcopy(root), None
    plain = _plain_pickles.get(pickled)
    if plain is None:
        plain = _node(type(root)) and root.parent is None and _plain(root, set())
        if len(_plain_pickles) < MAX_REMEMBERED:
            _plain_pickles[pickled] = plain
    if not plain:
        return copy.deepcopy(root), None
    return pickle.loads(pickled), pickled


def _plain(node: Any, seen: set[int]) -> bool:
    """Only nodes and plain values below `node`, each node once and linked to its holder."""
    if not _node(type(node)) or node.__dict__.keys() != _NODE_ATTRIBUTES or id(node) in seen:
        return False
    seen.add(id(node))
    children = node.children
    if children is None:
        return True
    if type(children) is not list:
        return False
    return all(
        type(child) in _PLAIN or (getattr(child, "parent", None) is node and _plain(child, seen)) for child in children
    )


def _node(cls: type) -> bool:
    known = _is_node.get(cls)
    if known is None:
        known = _is_node[cls] = issubclass(cls, Node)
    return known


def validator_init(
    self: Validator,
    expression: Node,
    expression_attribute_names: dict[str, str],
    expression_attribute_values: dict[str, dict[str, Any]],
    item: Any,
    table: Any,
) -> None:
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    self.processors = self.get_ast_processors()
    self.node_to_validate, self.berth_tree_shape = copy_tree(expression)


def validate(self: Validator) -> Node:
    """moto's: each check in turn on the tree, skipping a structural check that this tree's
    shape passed before with the same inputs (while no other check has changed the tree)."""
    n = self.node_to_validate
    shape = getattr(self, "berth_tree_shape", None)
    for processor in self.processors:
        inputs = _structural_inputs(processor) if shape is not None else None
        if inputs is None:
            shape = None  # this check may change the tree: the shape no longer describes it
            n = processor.traverse(n)
            continue
        key = (type(processor), shape, inputs)
        if key in _passed:
            continue
        n = processor.traverse(n)  # raises if the check fails: only a pass is remembered
        if len(_passed) < MAX_REMEMBERED:
            _passed.add(key)
    return n


def _structural_inputs(processor: DepthFirstTraverser) -> tuple[Any, ...] | None:
    """What a check that reads only the tree's shape reads besides it; None for other checks
    (and for names that are not strings: then the check is walked)."""
    cls = type(processor)
    try:
        if cls is ActionCountValidator:
            return ()
        if cls is OverlappingPathsValidator:
            return (_frozen(processor.expression_attribute_names),)
        if cls is UpdateHashRangeKeyValidator:
            return tuple(processor.table_key_attributes), _frozen(processor.expression_attribute_names)
    except TypeError:
        return None
    return None


def _frozen(names: dict[str, str] | None) -> frozenset[tuple[str, str]] | None:
    return None if names is None else frozenset(names.items())


def traverse(self: DepthFirstTraverser, node: Any) -> Any:
    cls = type(self)
    if any(getattr(cls, name) is not getattr(DepthFirstTraverser, name) for name in _WALK_METHODS):
        return MOTOS_TRAVERSE(self, node)
    handlers = self._processing_map()
    classes = tuple(handlers)
    handled_as = _handled_as.get(classes)
    if handled_as is None:
        handled_as = _handled_as[classes] = {}
    return _walk(self, handlers, handled_as, node, -1)


def _walk(self: DepthFirstTraverser, handlers: dict, handled_as: dict[type, type | None], node: Any, child_id: int) -> Any:
    cls = type(node)
    is_node = _is_node.get(cls)
    if is_node is None:
        is_node = _node(cls)
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        pre_processing_of_child = self.pre_processing_of_child
        for i, child_node in enumerate(node.children):
            pre_processing_of_child(node, i)
            _walk(self, handlers, handled_as, child_node, i)
    try:
        handler_class = handled_as[cls]
    except KeyError:
        # moto's `process`: the first of the map's classes the node is an instance of
        handler_class = handled_as[cls] = next((c for c in handlers if issubclass(cls, c)), None)
    if handler_class is not None:
        node = handlers[handler_class](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


def find_clauses(self: Node, clause_types: list[type]) -> list[Node]:
    clauses: list[Node] = []
    for child in self.children or []:
        cls = type(child)
        if cls in clause_types:
            clauses.append(child)
        else:
            descend = _descended.get(cls)
            if descend is None:
                descend = _descended[cls] = issubclass(cls, (Expression, UpdateExpressionFunction))
            if descend:
                clauses.extend(child.find_clauses(clause_types))
    return clauses


def install() -> None:
    """Idempotent: moto's update-expression validation copies and walks with the functions above."""
    Validator.__init__ = validator_init  # type: ignore[method-assign]
    Validator.validate = validate  # type: ignore[method-assign]
    DepthFirstTraverser.traverse = traverse  # type: ignore[method-assign]
    ast_nodes.Node.find_clauses = find_clauses  # type: ignore[method-assign]
